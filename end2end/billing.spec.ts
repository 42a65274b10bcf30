import { test, expect } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { hydrated, newWorkspace, signIn, violations } from './helpers';

test('the owner sees the trial, usage against every limit and past invoices, and opens one', { tag: '@smoke' }, async ({ page }) => {
  await signIn(page, 'owner@demo.leadline.test');
  await page.goto('/billing');
  await hydrated(page);
  await expect(page.getByTestId('current-plan')).toContainText('Pro plan');
  await expect(page.getByTestId('current-plan')).toContainText('Trial');
  const usage = page.getByTestId('usage');
  await expect(usage.getByRole('progressbar', { name: 'Seats' })).toBeVisible();
  await expect(usage).toContainText('Contacts and leads');
  // Messages are capped per channel and month.
  await expect(usage.getByRole('progressbar', { name: 'WhatsApp messages this month' })).toBeVisible();
  await expect(usage.getByRole('progressbar', { name: 'Emails this month' })).toBeVisible();
  // Storage is a limit too, written as a size.
  await expect(usage.getByRole('progressbar', { name: 'File storage' })).toBeVisible();
  await expect(usage.locator('li', { hasText: 'File storage' })).toContainText(/ of 20\u00a0GB/);
  await expect(page.getByTestId('plans').locator('tr[data-plan="pro"]')).toContainText('Current plan');
  // What each plan includes, beyond its limits.
  await expect(page.getByTestId('plans').locator('tr[data-plan="free"] [data-testid="plan-features"]')).toHaveText('None');
  await expect(page.getByTestId('plans').locator('tr[data-plan="starter"] [data-testid="plan-features"]')).toHaveText('Floor-plan maps, API access');
  // The API allowance, a minute and an hour; Free has no API.
  await expect(page.getByTestId('plans').locator('tr[data-plan="pro"] [data-testid="plan-api"]')).toHaveText('1,200 a minute, 30,000 an hour');
  await expect(page.getByTestId('plans').locator('tr[data-plan="free"] [data-testid="plan-api"]')).toHaveText('No API');
  expect(await violations(page), '/billing').toEqual([]);

  // Moving down to Free is refused while the workspace is over its limits, and says why.
  await page.getByRole('button', { name: 'Switch to Free' }).click();
  await expect(page.getByTestId('plan-error')).toContainText('does not fit Free');

  await page.getByTestId('invoices').getByRole('link', { name: 'Invoice 2' }).click();
  await hydrated(page);
  await expect(page.getByTestId('invoice')).toContainText('Nile Realty S.A.E.');
  await expect(page.getByTestId('invoice')).toContainText('VAT 14%');
  await expect(page.getByTestId('invoice-total')).toHaveText('EGP 1,653');
  expect(await violations(page), 'invoice').toEqual([]);

  // The same invoice as a PDF file.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Download PDF' }).click(),
  ]);
  expect(download.suggestedFilename()).toBe('invoice-2.pdf');
  const pdf = readFileSync(await download.path());
  expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
  expect(pdf.length).toBeGreaterThan(5_000);
});

test('the owner adds extra seats and buys a message pack, mistakes named at the field', async ({ page }) => {
  await newWorkspace(page, 'Addy');
  await page.goto('/billing');
  await hydrated(page);
  const seats = page.getByTestId('addons').locator('[data-addon="extra_seat"]');
  await expect(seats).toContainText('Extra seats');
  await expect(seats).toContainText('You have 0.');
  const howMany = seats.getByLabel('How many');

  // More than the add-on allows is refused next to the field.
  await howMany.fill('500');
  await seats.getByRole('button', { name: 'Save Extra seats' }).click();
  await expect(seats.getByRole('alert')).toContainText('from 0 to 200');
  await expect(howMany).toHaveAttribute('aria-invalid', 'true');
  expect(await violations(page), 'add-on error').toEqual([]);

  await howMany.fill('2');
  await seats.getByRole('button', { name: 'Save Extra seats' }).click();
  await expect(seats.getByRole('status')).toHaveText('Add-ons updated.');
  await expect(seats).toContainText('You have 2.');
  await expect(seats.getByLabel('How many')).toHaveValue('2');

  // A pack is invoiced at once, and this month's cap shows it.
  const pack = page.getByTestId('addons').locator('[data-addon="wa_pack"]');
  await pack.getByRole('button', { name: 'Buy WhatsApp message pack' }).click();
  await expect(pack.getByRole('link', { name: /^Add-ons updated\. Invoice \d+ covers them\.$/ })).toBeVisible();
  await expect(pack).toContainText('Bought this month: 1,000 more messages.');
  expect(await violations(page), 'add-ons').toEqual([]);

  // Moving down to Free at the period's end says the seats carry on with it.
  await page.getByRole('button', { name: 'Switch to Free' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Your plan changes on' }))
    .toContainText('Your add-ons carry on with it and renew at its price: Extra seats × 2.');
});
