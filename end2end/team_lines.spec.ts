import { test, expect, Browser, Page } from '@playwright/test';
import { hydrated, newWorkspace, unique } from './helpers';

/** Invites `role` from the team page and has them join in a browser of their own. */
async function inviteAndJoin(owner: Page, browser: Browser, name: string, role: string): Promise<Page> {
  const email = `${unique(name.split(' ')[0].toLowerCase())}@example.com`;
  await owner.goto('/settings/team');
  await hydrated(owner);
  await owner.getByLabel('Email').fill(email);
  await owner.getByLabel('Role', { exact: true }).selectOption(role);
  await owner.getByRole('button', { name: 'Create invite' }).click();
  const link = await owner.getByTestId('invite-link').inputValue();
  const page = await (await browser.newContext()).newPage();
  await page.goto(link);
  await hydrated(page);
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Password').fill('a long enough password');
  await page.getByRole('button', { name: 'Accept the invite' }).click();
  await expect(page).toHaveURL(/\/login\?next=\/invite\//);
  await hydrated(page);
  await page.getByLabel('Email').fill(email);
  await page.locator('#f-password').fill('a long enough password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('invite-joined')).toBeVisible();
  await hydrated(page);
  await page.getByRole('button', { name: 'Open the workspace' }).click();
  await expect(page).toHaveURL(/\/$/);
  await hydrated(page);
  return page;
}

async function leadNames(page: Page): Promise<string[]> {
  await page.goto('/leads');
  await hydrated(page);
  await expect(page.locator('tbody tr').first()).toBeVisible();
  return page.getByTestId('record-row').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.name ?? ''));
}

test('a workspace built through the UI: the team page draws reporting lines and a manager sees their reports\' leads', async ({ page, browser }) => {
  await newWorkspace(page, 'Samir');
  const manager = await inviteAndJoin(page, browser, 'Mariam Saleh', 'MANAGER');
  const rep = await inviteAndJoin(page, browser, 'Tarek Nabil', 'SALES');

  const lead = unique('Rep lead');
  await rep.goto('/leads');
  await hydrated(rep);
  await rep.getByTestId('new-record').click();
  await rep.getByTestId('new-record-form').getByLabel('Name').fill(lead);
  await rep.getByTestId('new-record-form').getByRole('button', { name: 'Save' }).click();
  await expect(rep).toHaveURL(/\/leads\/[0-9a-f-]+$/);

  // Before any line is drawn, the manager sees none of it.
  expect(await leadNames(manager)).not.toContain(lead);

  await page.goto('/settings/team');
  await hydrated(page);
  const row = page.getByRole('row', { name: /Tarek Nabil/ });
  await row.getByLabel('Manager — Tarek Nabil').selectOption({ label: 'Mariam Saleh' });
  await row.locator('form:has(select[name="manager"]) button[type="submit"]').click();
  const lines = page.getByTestId('reporting-lines');
  await expect(lines.locator('li[data-depth="1"]', { hasText: 'Tarek Nabil' })).toBeVisible();

  await expect.poll(() => leadNames(manager)).toContain(lead);

  // The line undone: the lead is out of the manager's sight again.
  await row.getByLabel('Manager — Tarek Nabil').selectOption({ label: 'No manager' });
  await row.locator('form:has(select[name="manager"]) button[type="submit"]').click();
  await expect(lines.locator('li[data-depth="0"]', { hasText: 'Tarek Nabil' })).toBeVisible();
  expect(await leadNames(manager)).not.toContain(lead);
});
