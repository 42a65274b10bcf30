import { test, expect } from '@playwright/test';
import { hydrated, linkInMail, signIn, unique, DEMO_PASSWORD } from './helpers';

test('sign up, sign out, sign in', { tag: '@smoke' }, async ({ page }) => {
  const email = `${unique('founder')}@example.com`;
  await page.goto('/signup');
  await hydrated(page);
  await page.getByLabel('Your name').fill('Nadia Fathy');
  await page.getByLabel('Company').fill('Delta Homes');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Create a workspace' }).click();
  // Bad input: a message next to the field, and what was typed is kept.
  await expect(page.locator('.field-error')).toContainText('at least 10');
  await expect(page.getByLabel('Email')).toHaveValue(email);
  await page.getByLabel('Password').fill('a long enough password');
  await page.getByRole('button', { name: 'Create a workspace' }).click();
  // Sign-up signs nobody in: the same answer whether or not the address had an account.
  await expect(page.getByTestId('check-email')).toBeVisible();

  // The confirmation link, received over SMTP by the local peer, takes one click.
  await page.goto(await linkInMail(page, email, '/verify/'));
  await hydrated(page);
  await page.getByRole('button', { name: 'Confirm my address' }).click();
  await expect(page.getByTestId('email-confirmed')).toBeVisible();

  await signIn(page, email, 'a long enough password');
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Nadia');
  await expect(page.locator('.brand-name')).toHaveText('Delta Homes');
  await page.locator('.menu > summary').click();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);

  await page.goto('/settings');
  await expect(page).toHaveURL(/\/login\?next=\/settings$/);
  await hydrated(page);
  await page.getByLabel('Email').fill(email);
  await page.locator('#f-password').fill('wrong password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('wrong');
  await page.locator('#f-password').fill('a long enough password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/settings$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Profile');
});

test('a forgotten password is reset through the emailed link', async ({ page, browser }) => {
  const email = `${unique('forgetful')}@example.com`;
  await page.goto('/signup');
  await hydrated(page);
  await page.getByLabel('Your name').fill('Omar Said');
  await page.getByLabel('Company').fill('Giza Towers');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('the first long password');
  await page.getByRole('button', { name: 'Create a workspace' }).click();
  await expect(page.getByTestId('check-email')).toBeVisible();
  await signIn(page, email, 'the first long password');

  const other = await (await browser.newContext()).newPage();
  await other.goto('/login');
  await hydrated(other);
  await other.getByRole('link', { name: 'Forgot your password?' }).click();
  await expect(other).toHaveURL(/\/forgot$/);
  await hydrated(other);
  await other.getByLabel('Email').fill(email);
  await other.getByRole('button', { name: 'Send the link' }).click();
  await expect(other.getByTestId('reset-sent')).toBeVisible();
  await other.goto(await linkInMail(other, email, '/reset/'));
  await hydrated(other);
  await other.getByLabel('New password').fill('short');
  await other.getByRole('button', { name: 'Set the password' }).click();
  await expect(other.locator('.field-error')).toContainText('at least 10');
  await expect(other.getByLabel('New password')).toHaveValue('short');
  await other.getByLabel('New password').fill('the second long password');
  await other.getByRole('button', { name: 'Set the password' }).click();
  await expect(other.getByTestId('reset-done')).toBeVisible();
  await signIn(other, email, 'the second long password');

  // The browser that was signed in with the old password is signed out.
  await page.goto('/settings');
  await expect(page).toHaveURL(/\/login\?next=/);
});

test('the page is interactive without reloading (hydration)', { tag: '@smoke' }, async ({ page }) => {
  await page.goto('/login');
  await hydrated(page);
  await page.evaluate(() => ((window as any).__sameDocument = true));
  const password = page.locator('#f-password');
  await expect(password).toHaveAttribute('type', 'password');
  await page.getByTestId('toggle-password').click();
  await expect(password).toHaveAttribute('type', 'text');
  await expect(page.getByTestId('toggle-password')).toHaveText('Hide');
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);

  await signIn(page, 'sales@demo.leadline.test');
  await page.evaluate(() => ((window as any).__sameDocument = true));
  const toggle = page.getByTestId('sidebar-toggle');
  await expect(toggle).toHaveAttribute('aria-expanded', 'true');
  await toggle.click();
  await expect(toggle).toHaveAttribute('aria-expanded', 'false');
  await page.keyboard.press('/');
  await expect(page.locator('#global-search')).toBeFocused();
  await expect(page.getByRole('link', { name: 'Billing' })).toHaveCount(0);
  await page.getByRole('link', { name: 'Inventory' }).click();
  await expect(page).toHaveURL(/\/inventory$/);
  await expect(page.getByTestId('units-table')).toBeVisible();
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
});

test('invite a teammate and accept in a second browser', async ({ page, browser }) => {
  const email = `${unique('rep')}@example.com`;
  await signIn(page, 'admin@demo.leadline.test');
  await page.goto('/settings/team');
  await hydrated(page);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Role', { exact: true }).selectOption('SALES');
  await page.getByRole('button', { name: 'Create invite' }).click();
  const link = await page.getByTestId('invite-link').inputValue();
  expect(link).toContain('/invite/');

  const other = await browser.newContext();
  const guest = await other.newPage();
  await guest.goto(link);
  await hydrated(guest);
  await expect(guest.getByRole('heading', { level: 1 })).toContainText('Nile Realty');
  await guest.getByLabel('Your name').fill('Youssef Kamal');
  await guest.getByLabel('Password').fill('a long enough password');
  await guest.getByRole('button', { name: 'Accept the invite' }).click();
  // The invite form never signs in by itself: the normal sign-in comes next and brings
  // the new member back to the invite, which now opens the workspace.
  await expect(guest).toHaveURL(/\/login\?next=\/invite\//);
  await hydrated(guest);
  await guest.getByLabel('Email').fill(email);
  await guest.locator('#f-password').fill('a long enough password');
  await guest.getByRole('button', { name: 'Sign in' }).click();
  await expect(guest).toHaveURL(/\/invite\//);
  await expect(guest.getByTestId('invite-joined')).toContainText('Nile Realty');
  await hydrated(guest);
  await guest.getByRole('button', { name: 'Open the workspace' }).click();
  await expect(guest).toHaveURL(/\/$/);
  await expect(guest.getByRole('heading', { level: 1 })).toContainText('Youssef');

  // The link works once.
  const third = await (await browser.newContext()).newPage();
  await third.goto(link);
  await expect(third.getByTestId('invite-closed')).toBeVisible();
  await other.close();

  await page.reload();
  await expect(page.getByRole('row', { name: new RegExp(email) })).toContainText('Youssef Kamal');
});

test('switching to Arabic turns the page right-to-left', async ({ page }) => {
  await signIn(page, 'manager@demo.leadline.test');
  await page.goto('/settings');
  await hydrated(page);
  await expect(page.locator('html')).toHaveAttribute('dir', 'ltr');
  await page.getByLabel('Language').selectOption('ar');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.locator('html')).toHaveAttribute('dir', 'rtl');
  await expect(page.locator('html')).toHaveAttribute('lang', 'ar');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('الملف الشخصي');
  // Back to English, so the demo user stays as it was.
  await hydrated(page);
  await page.getByLabel('اللغة').selectOption('en');
  await page.getByRole('button', { name: 'حفظ' }).click();
  await expect(page.locator('html')).toHaveAttribute('dir', 'ltr');
});

test('an invalid invite link explains itself', async ({ page }) => {
  await page.goto('/invite/not-a-real-token');
  await expect(page.getByTestId('invite-closed')).toBeVisible();
  await expect(page.getByText('not valid')).toBeVisible();
});

test('a sales rep does not see admin settings', async ({ page }) => {
  await signIn(page, 'sales@demo.leadline.test', DEMO_PASSWORD);
  await page.goto('/settings');
  await expect(page.getByRole('link', { name: 'Audit log' })).toHaveCount(0);
  await page.goto('/settings/audit');
  await expect(page.getByRole('alert')).toContainText('role does not allow');
});
