import { test, expect } from '@playwright/test';
import { hydrated, newWorkspace } from './helpers';

test('a workspace\'s brand colour reaches its buttons and mark', async ({ page }) => {
  await newWorkspace(page, 'Rania');
  await page.goto('/settings/workspace');
  await hydrated(page);
  await page.locator('#f-brand_color').fill('#0f766e');
  const saved = page.waitForResponse((r) => r.request().method() === 'POST' && r.status() < 400);
  await page.locator('form:has(#f-brand_color) button[type="submit"]').click();
  await saved;
  await expect(async () => {
    await page.goto('/');
    const mark = await page.locator('.brand-mark').evaluate((el) => getComputedStyle(el).backgroundColor);
    expect(mark).toBe('rgb(15, 118, 110)');
  }).toPass({ timeout: 15_000 });
});
