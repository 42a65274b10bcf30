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

test('a rep narrows the map by view, reads a hover card, and sees a unit\'s price over time', async ({ page }) => {
  await signIn(page, 'sales@demo.leadline.test');
  await page.goto('/inventory');
  await hydrated(page);
  await page.getByRole('link', { name: /Nile Towers — Floor 12/ }).click();
  await hydrated(page);
  const list = page.getByTestId('plan-list');
  await expect(list.getByRole('listitem')).toHaveCount(40);
  await page.getByTestId('map-filters').getByLabel('View').fill('nile');
  await page.getByTestId('map-filters').getByLabel('View').press('Tab');
  // B-1201 to B-1208 face the Nile.
  await expect(list.getByRole('listitem')).toHaveCount(8);
  const shape = page.getByTestId('plan-map').getByRole('button', { name: /^Unit B-1203,/ });
  await shape.hover();
  await expect(page.getByTestId('hover-card')).toContainText('Unit B-1203');
  await shape.focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('unit-panel').getByRole('link', { name: 'Unit B-1203' }).click();
  await hydrated(page);
  await expect(page.getByRole('img', { name: /^Price over time: lowest EGP/ })).toBeVisible();
  await expect(page.getByTestId('unit-history')).toHaveCount(0);
});
