import { test, expect } from '@playwright/test';
import { hydrated, setLanguage, signIn, violations } from './helpers';


test('sign-in and sign-up pages have no serious accessibility violations, in English and Arabic', async ({ page, browser }) => {
  const arabic = await (await browser.newContext({ locale: 'ar-EG' })).newPage();
  for (const path of ['/login', '/signup']) {
    await page.goto(path);
    await hydrated(page);
    expect(await violations(page), path).toEqual([]);
    await arabic.goto(path);
    await hydrated(arabic);
    await expect(arabic.locator('html')).toHaveAttribute('dir', 'rtl');
    expect(await violations(arabic), `${path} in Arabic`).toEqual([]);
  }
});

test('signed-in pages have no serious accessibility violations, down to 390 px', async ({ page }) => {
  await signIn(page, 'owner@demo.leadline.test');
  const paths = ['/', '/pipeline', '/leads', '/contacts', '/companies', '/deals', '/tasks', '/search?q=nile', '/settings', '/settings/team', '/settings/security', '/settings/audit', '/settings/jobs', '/settings/sessions', '/settings/two-factor', '/settings/workspace', '/outreach', '/outreach/sequences', '/outreach/templates', '/outreach/senders', '/review', '/inventory', '/billing', '/inbox', '/notifications', '/settings/notifications', '/duplicates/leads'];
  for (const path of paths) {
    await page.goto(path);
    await hydrated(page);
    expect(await violations(page), path).toEqual([]);
  }
  await page.setViewportSize({ width: 390, height: 800 });
  await page.goto('/settings/team');
  await hydrated(page);
  expect(await violations(page), 'team at 390 px').toEqual([]);
});

test('the review area has no serious accessibility violations in Arabic, at 1280 and 390 px', async ({ page }) => {
  await signIn(page, 'admin@demo.leadline.test');
  const language = (code: string) => setLanguage(page, code);
  try {
    await language('ar');
    await expect(page.locator('html')).toHaveAttribute('dir', 'rtl');
    const paths = ['/review', '/review?tab=approvals', '/inbox', '/notifications', '/settings/notifications', '/settings/review', '/settings/approvals'];
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: 800 });
      for (const path of paths) {
        await page.goto(path);
        await hydrated(page);
        await expect(page.locator('html')).toHaveAttribute('dir', 'rtl');
        expect(await violations(page), `${path} in Arabic at ${width} px`).toEqual([]);
      }
    }
  } finally {
    await page.setViewportSize({ width: 1280, height: 800 });
    await language('');
  }
});

/** Sets the signed-in member's theme in Settings; the page reloads with it. */
async function setTheme(page: import('@playwright/test').Page, theme: string) {
  await page.goto('/settings');
  await hydrated(page);
  await page.locator('#f-theme').selectOption(theme);
  const saved = page.waitForResponse((r) => r.request().method() === 'POST' && r.status() < 400);
  await page.locator('form:has(#f-theme) button[type="submit"]').click();
  await saved;
  await expect(async () => {
    await page.goto('/settings');
    await expect(page.locator('html')).toHaveAttribute('data-theme', theme, { timeout: 1000 });
  }).toPass({ timeout: 15_000 });
}

test('the dark theme applies everywhere and meets the same contrast bar', async ({ page }) => {
  await signIn(page, 'manager@demo.leadline.test');
  try {
    await setTheme(page, 'dark');
    const paths = ['/', '/pipeline', '/leads', '/tasks', '/settings', '/settings/team', '/outreach', '/review', '/inventory', '/notifications'];
    for (const path of paths) {
      await page.goto(path);
      await hydrated(page);
      // The page really is dark: its canvas, not only the attribute.
      const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      expect(background, path).toBe('rgb(15, 18, 22)');
      expect(await violations(page), `${path} in the dark theme`).toEqual([]);
    }
  } finally {
    await setTheme(page, 'light');
  }
});
