import { test, expect } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { hydrated, signIn, violations } from './helpers';

test('the owner sees the trial, usage against every limit and past invoices, and opens one', async ({ page }) => {
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
