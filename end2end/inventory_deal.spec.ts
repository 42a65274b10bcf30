import { test, expect } from '@playwright/test';
import { hydrated, signIn, violations } from './helpers';

test('a manager previews a price rise on a project, then applies it once', async ({ page }) => {
  await signIn(page, 'manager@demo.leadline.test');
  await page.goto('/inventory');
  await hydrated(page);
  await page.getByRole('button', { name: 'Change many units' }).click();
  const bulk = page.getByTestId('bulk-change');
  await bulk.getByLabel('In project').selectOption({ label: 'Sahel Villas' });
  await bulk.getByLabel('Price change (%)').fill('two');
  await bulk.getByRole('button', { name: 'Preview' }).click();
  await expect(bulk.getByText('Enter a percentage')).toBeVisible();
  await bulk.getByLabel('Price change (%)').fill('2');
  await bulk.getByLabel('Why (kept with each price)').fill('Summer pricing');
  await bulk.getByRole('button', { name: 'Preview' }).click();
  // Six villas, one sold: five change.
  await expect(bulk.getByTestId('bulk-preview')).toContainText('5 of the 6 selected units change');
  expect(await violations(page), 'bulk preview').toEqual([]);
  await bulk.getByRole('button', { name: 'Apply to 5 units' }).click();
  await expect(bulk.getByRole('status')).toContainText('5 units changed');
  await expect(bulk.getByRole('button', { name: /^Apply/ })).toHaveCount(0);
});

test('a rep holds a villa from their deal page and takes the deal amount from it', async ({ page }) => {
  await signIn(page, 'sales@demo.leadline.test');
  await page.goto('/deals');
  await hydrated(page);
  await page.getByRole('link', { name: 'Zamalek penthouse' }).click();
  await hydrated(page);
  const units = page.getByTestId('deal-units');
  await units.getByLabel('Hold a unit for this deal: find it by code').fill('V-');
  const hold = units.getByRole('button', { name: /^Hold V-\d$/ }).first();
  const code = (await hold.textContent())!.replace('Hold ', '').trim();
  await hold.click();
  await expect(units.getByRole('link', { name: new RegExp(`^Unit ${code},`) })).toBeVisible();
  const total = (await units.getByTestId('deal-units-total').textContent())!.replace("Units' total: ", '').trim();
  await units.getByRole('button', { name: "Set the deal's amount to this total" }).click();
  await expect(page.getByText(total, { exact: true }).first()).toBeVisible();
  expect(await violations(page), 'deal page').toEqual([]);
});
