import { test, expect } from '@playwright/test';
import { hydrated, newWorkspace, setLanguage, signIn, violations } from './helpers';

test('a Pro workspace reads win rates by owner, lead sources and wins by month over a period', async ({ page }) => {
  await signIn(page, 'owner@demo.leadline.test');
  await page.goto('/');
  await hydrated(page);
  await page.getByRole('navigation').getByRole('link', { name: 'Reports' }).click();
  await expect(page).toHaveURL(/\/reports$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Reports' })).toBeVisible();
  await expect(page.getByTestId('reports-scope')).toContainText('Last 90 days; values in EGP.');
  await expect(page.getByRole('link', { name: 'Last 90 days' })).toHaveAttribute('aria-current', 'page');

  // The seed closed a deal won (EGP 6,800,000) and one lost, both Karim's; other specs
  // close more of the demo's deals, so the row is read for its shape and its floor.
  const row = page.getByTestId('report-owners').getByRole('row', { name: /Karim Adel/ });
  await expect(row.getByRole('cell')).toHaveText([/^[1-9]\d*$/, /^[1-9]\d*$/, /^\d+%$/, /^EGP [\d,]+$/, /^\d+$/]);
  const won = Number(await row.getByRole('cell').nth(0).textContent());
  const lost = Number(await row.getByRole('cell').nth(1).textContent());
  await expect(row.getByRole('cell').nth(2)).toHaveText(`${Math.round((won * 100) / (won + lost))}%`);
  await expect(page.getByTestId('report-sources').getByRole('row', { name: /Website/ })).toBeVisible();
  await expect(page.getByTestId('reports').getByTestId('bar-row')).toHaveCount(12);
  expect(await violations(page), '/reports').toEqual([]);

  await page.getByRole('link', { name: 'Last 365 days' }).click();
  await expect(page).toHaveURL(/\/reports\?days=365$/);
  await expect(page.getByTestId('reports-scope')).toContainText('Last 365 days');
  await expect(page.getByRole('link', { name: 'Last 365 days' })).toHaveAttribute('aria-current', 'page');

  await page.setViewportSize({ width: 390, height: 844 });
  expect(await violations(page), '/reports at 390 px').toEqual([]);
});

test('a Starter workspace is told reports come with advanced analytics, and where to get it', async ({ page }) => {
  await newWorkspace(page, 'Rhea');
  await page.goto('/reports');
  await hydrated(page);
  const locked = page.getByTestId('reports-locked');
  await expect(locked).toContainText('does not include Advanced analytics');
  await expect(locked.getByRole('link', { name: 'See plans' })).toHaveAttribute('href', '/billing');
  expect(await violations(page), 'locked reports').toEqual([]);

  await setLanguage(page, 'ar');
  await page.goto('/reports');
  await hydrated(page);
  await expect(page.locator('html')).toHaveAttribute('dir', 'rtl');
  await expect(page.getByTestId('reports-locked').getByRole('link', { name: 'عرض الخطط' })).toBeVisible();
  expect(await violations(page), 'locked reports in Arabic').toEqual([]);
});
