import { test, expect } from '@playwright/test';
import { hydrated, signIn, violations } from './helpers';

test('a manager sets review rules and business hours, and a wrong value is refused next to its field', { tag: '@smoke' }, async ({ page }) => {
  await signIn(page, 'manager@demo.leadline.test');
  await page.goto('/settings');
  await hydrated(page);
  await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Review rules' }).click();
  await expect(page).toHaveURL(/\/settings\/review$/);
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1, name: 'Review rules' })).toBeVisible();

  // A time to answer below five minutes is refused, next to the field.
  const urgent = page.getByLabel('Urgent');
  await urgent.fill('2');
  await page.getByRole('button', { name: 'Save review rules' }).click();
  await expect(urgent).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByText('Enter a whole number from 5 to 10080.')).toBeVisible();
  await urgent.fill('45');

  // Weekdays 09:00-17:00, with Friday closing early and the weekend closed.
  await page.getByLabel('Only during these hours').check();
  const hours = page.getByTestId('business-hours');
  await expect(hours).toBeVisible();
  await page.getByLabel('Friday closes').fill('13:00');
  await page.getByLabel('Trigger phrases').fill('penthouse\nlawyer');
  await page.getByRole('button', { name: 'Save review rules' }).click();
  await expect(page.getByRole('status')).toHaveText('Review rules saved.');
  expect(await violations(page), '/settings/review').toEqual([]);

  await page.reload();
  await hydrated(page);
  await expect(page.getByLabel('Urgent')).toHaveValue('45');
  await expect(page.getByLabel('Only during these hours')).toBeChecked();
  await expect(page.getByLabel('Friday closes')).toHaveValue('13:00');
  await expect(page.getByLabel('Open on Saturday')).not.toBeChecked();
  await expect(page.getByLabel('Trigger phrases')).toHaveValue('penthouse\nlawyer');

  // Closing before opening is refused on that day's row.
  await page.getByLabel('Monday closes').fill('08:00');
  await page.getByRole('button', { name: 'Save review rules' }).click();
  await expect(page.getByLabel('Monday closes')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByText('It must close after it opens.')).toBeVisible();

  await page.setViewportSize({ width: 390, height: 800 });
  expect(await violations(page), '/settings/review at 390 px').toEqual([]);
});
