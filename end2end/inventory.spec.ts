import { test, expect } from '@playwright/test';
import { hydrated, signIn, violations } from './helpers';

test('find a unit on the floor plan by keyboard, hold it for a deal, and see it on the units table', { tag: '@smoke' }, async ({ page }) => {
  await signIn(page, 'owner@demo.leadline.test');
  await page.goto('/inventory');
  await hydrated(page);
  expect(await violations(page), '/inventory').toEqual([]);
  await expect(page.getByTestId('unit-row').first()).toBeVisible();

  // The tower's floor plan: every unit a named shape, coloured by status, with a legend.
  await page.getByRole('link', { name: /Nile Towers — Floor 12/ }).click();
  await hydrated(page);
  const map = page.getByTestId('plan-map');
  await expect(map.getByTestId('plan-shape')).toHaveCount(40);
  await expect(page.getByTestId('legend')).toContainText('Available');
  expect(await violations(page), 'plan').toEqual([]);

  // B-1201 is available: reach it with the keyboard and open it with Enter.
  const shape = map.getByRole('button', { name: /^Unit B-1201, 2 bedrooms, 134 m², EGP 3,825,000, available$/ });
  await shape.focus();
  await page.keyboard.press('Enter');
  const panel = page.getByTestId('unit-panel');
  await expect(panel).toContainText('Unit B-1201');
  await panel.getByLabel('Hold for deal').selectOption({ label: 'Delta Homes show flat' });
  await panel.getByRole('button', { name: 'Hold', exact: true }).click();
  await expect(panel.getByTestId('unit-hold')).toContainText('Held for Delta Homes show flat');
  // The map recolours on its next refresh.
  await expect(map.getByRole('button', { name: /^Unit B-1201, .*, held$/ })).toBeVisible({ timeout: 10_000 });

  // The same units as a list, for screen readers and phones.
  await expect(page.getByTestId('plan-list')).toContainText('Unit B-1201');

  // Filter the table to held units: B-1201 is there.
  await page.goto('/inventory');
  await hydrated(page);
  await page.getByLabel('Status').selectOption('HELD');
  await expect(page.getByTestId('unit-row').filter({ hasText: 'B-1201' })).toBeVisible();
});
