import { test, expect } from '@playwright/test';
import { hydrated, signIn, violations } from './helpers';

test('a manager reads notifications on their page and chooses where each kind goes', async ({ page }) => {
  await signIn(page, 'manager@demo.leadline.test');
  // From the bell to the full page.
  await page.getByTestId('bell').locator('summary').click();
  await page.getByRole('link', { name: 'All notifications' }).click();
  await expect(page).toHaveURL(/\/notifications$/);
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1, name: 'Notifications' })).toBeVisible();
  const export_ = page.getByTestId('notification').filter({ hasText: 'Your lead export is ready to download.' });
  await expect(export_).toHaveAttribute('data-unread', 'true');
  expect(await violations(page), '/notifications').toEqual([]);
  await export_.getByRole('button', { name: 'Mark as read' }).click();
  await expect(export_).toHaveAttribute('data-unread', 'false');
  await page.getByLabel('Unread only').check();
  await expect(page.getByTestId('notification').filter({ hasText: 'Your lead export is ready to download.' })).toHaveCount(0);
  await expect(page.getByTestId('notification').filter({ hasText: 'Yasmine Fouad replied' })).toBeVisible();

  // Preferences: replies by daily email too, SLA breaches not in the app.
  await page.goto('/settings/notifications');
  await hydrated(page);
  const replyByEmail = page.getByLabel('Reply on my lead: in the daily email');
  await expect(replyByEmail).not.toBeChecked();
  await replyByEmail.check();
  await page.getByLabel('SLA breach: in the app').uncheck();
  await page.getByRole('button', { name: 'Save preferences' }).click();
  await expect(page.getByRole('status')).toHaveText('Preferences saved.');
  await page.reload();
  await hydrated(page);
  await expect(page.getByLabel('Reply on my lead: in the daily email')).toBeChecked();
  await expect(page.getByLabel('SLA breach: in the app')).not.toBeChecked();
  await expect(page.getByLabel('Reply on my lead: in the app')).toBeChecked();
  expect(await violations(page), '/settings/notifications').toEqual([]);

  // Both pages at phone width.
  await page.setViewportSize({ width: 390, height: 800 });
  for (const path of ['/notifications', '/settings/notifications']) {
    await page.goto(path);
    await hydrated(page);
    expect(await violations(page), `${path} at 390 px`).toEqual([]);
  }
});
