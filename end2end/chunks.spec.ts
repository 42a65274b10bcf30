import { test, expect } from '@playwright/test';
import { hydrated, signIn } from './helpers';

// Every page is a lazy route (app/src/pages.rs): its WASM chunk is fetched when the
// page is first opened, not with the first page a user loads.

test('an area is downloaded only when it is opened', { tag: '@smoke' }, async ({ page }) => {
  const wasm: string[] = [];
  page.on('request', (req) => {
    if (req.url().endsWith('.wasm')) wasm.push(new URL(req.url()).pathname);
  });
  await signIn(page, 'owner@demo.leadline.test');
  await page.goto('/pipeline');
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
  expect(wasm.filter((f) => /inventory/.test(f)), 'inventory before it was opened').toEqual([]);

  await page.getByRole('navigation').getByRole('link', { name: 'Inventory' }).click();
  await expect(page).toHaveURL(/\/inventory$/);
  await expect(page.getByTestId('unit-row').first()).toBeVisible();
  expect(wasm.filter((f) => /inventory/.test(f)).length, 'inventory chunk on opening').toBeGreaterThan(0);
});

test('a chunk that fails to download offers a reload that works', { tag: '@smoke' }, async ({ page }) => {
  await signIn(page, 'owner@demo.leadline.test');
  await page.goto('/pipeline');
  await hydrated(page);
  // As after a deploy that removed the old chunks, or a dropped connection.
  await page.route(/\/pkg\/.*inventory.*\.wasm/, (route) => route.abort('failed'));
  await page.getByRole('navigation').getByRole('link', { name: 'Inventory' }).click();
  const alert = page.getByRole('alert').filter({ hasText: 'The page stopped working' });
  await expect(alert).toBeVisible();

  await page.unroute(/\/pkg\/.*inventory.*\.wasm/);
  await alert.getByRole('link', { name: 'Reload the page' }).click();
  await hydrated(page);
  await expect(page).toHaveURL(/\/inventory$/);
  await expect(page.getByTestId('unit-row').first()).toBeVisible();
});
