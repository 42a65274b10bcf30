import { test, expect } from '@playwright/test';
import { hydrated, newWorkspace, setLanguage } from './helpers';

test('a long bar label is cut with its full name in a tooltip, clear of the value, in both directions', async ({ page }) => {
  // Long, yet short enough for an email address's 64-character local part.
  const name = 'Konstantinopoulou-Vasilopoulou-Fuente';
  await newWorkspace(page, name);
  // One note this week puts the member on the activity chart.
  await page.goto('/leads');
  await hydrated(page);
  await page.getByTestId('new-record').click();
  await page.getByTestId('new-record-form').getByLabel('Name').fill('Chart lead');
  await page.getByTestId('new-record-form').getByRole('button', { name: 'Save' }).click();
  await expect(page).toHaveURL(/\/leads\/[0-9a-f-]+$/);
  await hydrated(page);
  await page.getByTestId('composer').getByLabel('Notes').fill('Called');
  await page.getByTestId('composer').getByRole('button', { name: 'Add to timeline' }).click();
  await expect(page.getByTestId('timeline')).toContainText('Called');

  const check = async (direction: 'ltr' | 'rtl') => {
    await page.goto('/');
    await hydrated(page);
    const row = page.getByTestId('bar-row').filter({ hasText: name });
    const label = row.locator('.bar-label');
    await expect(label).toHaveAttribute('title', name);
    expect(await label.evaluate((el) => el.scrollWidth > el.clientWidth), 'the label is cut').toBe(true);
    const l = (await label.boundingBox())!;
    const v = (await row.locator('.bar-value').boundingBox())!;
    if (direction === 'ltr') {
      expect(l.x + l.width, 'the label ends before the value').toBeLessThanOrEqual(v.x);
    } else {
      expect(v.x + v.width, 'the value ends before the label').toBeLessThanOrEqual(l.x);
    }
  };
  await check('ltr');
  await setLanguage(page, 'ar');
  await expect(page.locator('html')).toHaveAttribute('dir', 'rtl');
  await check('rtl');
});
