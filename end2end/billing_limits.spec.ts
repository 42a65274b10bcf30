import { test, expect } from '@playwright/test';
import { hydrated, setLanguage, signIn, unique, violations } from './helpers';

// The demo's second workspace, Delta Brokers: on Free, at its contact limit. Its owner
// (free@demo.leadline.test) is in no other spec, so its plan and language are this
// spec's to change.
test('at the Free contact limit a new lead is refused with the way out; Pro with the stand-in card lifts it; billing in Arabic passes axe', async ({ page }) => {
  await signIn(page, 'free@demo.leadline.test');

  // The limit is named where the lead is added, with how to lift it.
  await page.goto('/leads');
  await hydrated(page);
  await page.getByTestId('new-record').click();
  const form = page.getByTestId('new-record-form');
  await form.locator('#f-name').fill(unique('Over the limit'));
  await form.locator('button[type="submit"]').click();
  await expect(form).toContainText('Your Free plan allows');
  await expect(form).toContainText('Upgrade on the Billing page');
  await expect(page).toHaveURL(/\/leads$/);

  // Billing: a card from the stand-in provider, then Pro, charged at once.
  await page.goto('/billing');
  await hydrated(page);
  await expect(page.getByTestId('current-plan')).toContainText('Free');
  await page.getByLabel('Card to charge').selectOption('pm_card_visa');
  await page.getByRole('button', { name: 'Save card' }).click();
  await expect(page.getByLabel('Card to charge')).toHaveValue('pm_card_visa');
  await page.getByRole('button', { name: 'Switch to Pro' }).click();
  await expect(page.getByTestId('current-plan')).toContainText('Pro plan');
  const invoice = page.getByTestId('invoices').locator('li', { hasText: 'Invoice 1' });
  await expect(invoice).toContainText('Paid', { timeout: 20_000 });
  expect(await violations(page), '/billing on Pro').toEqual([]);

  // The same lead now goes in.
  await page.goto('/leads');
  await hydrated(page);
  await page.getByTestId('new-record').click();
  await page.getByTestId('new-record-form').locator('#f-name').fill(unique('Within Pro'));
  await page.getByTestId('new-record-form').locator('button[type="submit"]').click();
  await expect(page).toHaveURL(/\/leads\/[0-9a-f-]+$/);

  // The billing page and the invoice in Arabic, right to left, at 1280 and 390 px.
  try {
    await setLanguage(page, 'ar');
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: 800 });
      await page.goto('/billing');
      await hydrated(page);
      await expect(page.locator('html')).toHaveAttribute('dir', 'rtl');
      expect(await violations(page), `/billing in Arabic at ${width} px`).toEqual([]);
      await page.getByTestId('invoices').locator('li').first().getByRole('link').first().click();
      await hydrated(page);
      expect(await violations(page), `invoice in Arabic at ${width} px`).toEqual([]);
    }
  } finally {
    await page.setViewportSize({ width: 1280, height: 800 });
    await setLanguage(page, '');
  }
});
