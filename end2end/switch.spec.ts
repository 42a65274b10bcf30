import { test, expect } from '@playwright/test';
import { hydrated, signIn, violations } from './helpers';

test('an admin moves a WhatsApp number to 360dialog and watches the switch complete', async ({ page }) => {
  await signIn(page, 'owner@demo.leadline.test');
  await page.goto('/outreach/senders');
  await hydrated(page);
  // The last number: the demo's leads stick to the first ones.
  const number = page.locator('details[data-testid^="switch-"]').last();
  await number.locator('summary').click();
  const phoneId = (await number.getByText('Phone number ID').innerText()).split(':').pop()!.trim();
  await number.getByLabel('New provider', { exact: true }).selectOption({ label: '360dialog' });
  await number.getByRole('button', { name: 'Start switch' }).click();
  await expect(number.getByLabel("New provider's credential")).toHaveAttribute('aria-invalid', 'true');
  await number.getByLabel("New provider's credential").fill(`d360-demo-${phoneId}`);
  await number.getByRole('button', { name: 'Start switch' }).click();
  await expect(number.getByRole('status')).toHaveText('Switch started; its steps appear below.');
  await expect(async () => {
    await page.reload();
    await hydrated(page);
    const again = page.locator('details[data-testid^="switch-"]').last();
    await again.locator('summary').click();
    await expect(again.locator('[data-switch-status="COMPLETED"]')).toBeVisible({ timeout: 1000 });
    await expect(again.locator('summary')).toContainText('360dialog');
  }).toPass({ timeout: 60_000 });
  expect(await violations(page), '/outreach/senders').toEqual([]);
});
