import { test, expect } from '@playwright/test';
import { hydrated, linkInMail, signIn, unique, violations } from './helpers';

// A workspace of its own: the demo's billing state is read by billing.spec.ts.
test('a declined card leaves the invoice unpaid and past due; a good card and "Pay now" settle it', async ({ page }) => {
  const email = `${unique('payer')}@example.com`;
  const password = 'a long enough password';
  await page.goto('/signup');
  await hydrated(page);
  await page.getByLabel('Your name').fill('Omar Said');
  await page.getByLabel('Company').fill('Said Estates');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Create a workspace' }).click();
  await expect(page.getByTestId('check-email')).toBeVisible();
  await page.goto(await linkInMail(page, email, '/verify/'));
  await hydrated(page);
  await page.getByRole('button', { name: 'Confirm my address' }).click();
  await expect(page.getByTestId('email-confirmed')).toBeVisible();
  await signIn(page, email, password);

  await page.goto('/billing');
  await hydrated(page);
  await expect(page.getByTestId('current-plan')).toContainText('Trial');
  // The owner picks the card that will be declined and starts paying.
  await page.getByLabel('Card to charge').selectOption('pm_card_chargeDeclined');
  await page.getByRole('button', { name: 'Save card' }).click();
  await expect(page.getByLabel('Card to charge')).toHaveValue('pm_card_chargeDeclined');
  await page.getByRole('button', { name: 'Start paying now' }).click();

  // The worker charges it moments later; the page follows without a reload.
  const failed = page.getByTestId('payment-failed');
  await expect(failed).toContainText('The payment of invoice 1 failed: Your card was declined.', { timeout: 20_000 });
  await expect(page.getByTestId('current-plan')).toContainText('Payment overdue');
  expect(await violations(page), '/billing past due').toEqual([]);

  // A good card, then "Pay now": paid, and the warning is gone.
  await page.getByLabel('Card to charge').selectOption('pm_card_visa');
  await page.getByRole('button', { name: 'Save card' }).click();
  await expect(page.getByLabel('Card to charge')).toHaveValue('pm_card_visa');
  await failed.getByRole('button', { name: 'Pay invoice 1 now' }).click();
  await expect(failed).toBeHidden({ timeout: 20_000 });
  await expect(page.getByTestId('current-plan')).toContainText('Active');
  await expect(page.getByTestId('invoices')).toContainText('Paid');

  // An upgrade's prorated invoice is charged to the good card at once.
  await page.getByRole('button', { name: 'Switch to Pro' }).click();
  await expect(page.getByTestId('current-plan')).toContainText('Pro plan');
  const second = page.getByTestId('invoices').locator('li', { hasText: 'Invoice 2' });
  await expect(second).toContainText('Paid', { timeout: 20_000 });
  await second.getByRole('link', { name: 'Invoice 2' }).click();
  await hydrated(page);
  await expect(page.getByTestId('attempts')).toContainText('Paid');
  await expect(page.getByTestId('pay-now')).toHaveCount(0);
  expect(await violations(page), 'invoice').toEqual([]);
});
