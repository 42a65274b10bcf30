import { test, expect } from '@playwright/test';
import { hydrated, signIn, unique, violations } from './helpers';

test('a rep books a meeting with a colleague, and it reaches the colleague\'s calendar feed', async ({ page, browser, request }) => {
  await signIn(page, 'sales@demo.leadline.test');
  await page.goto('/leads');
  await hydrated(page);
  const name = unique('Salma Fathy');
  await page.getByTestId('new-record').click();
  await page.getByTestId('new-record-form').getByLabel('Name').fill(name);
  await page.getByTestId('new-record-form').getByRole('button', { name: 'Save' }).click();
  await expect(page).toHaveURL(/\/leads\/[0-9a-f-]+$/);
  await hydrated(page);

  // A week ahead: in the feed's window, and in My tasks' two weeks of meetings.
  const day = new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10);
  const composer = page.getByTestId('composer');
  await composer.getByText('Meeting', { exact: true }).click();
  const subject = unique('Site visit');
  await composer.getByLabel('Subject').fill(subject);
  // An end before the start is refused next to the field.
  await composer.getByLabel('Starts').fill(`${day}T15:00`);
  await composer.getByLabel('Ends').fill(`${day}T14:00`);
  await composer.getByRole('button', { name: 'Add to timeline' }).click();
  await expect(page.locator('#f-ends_at-error')).toContainText('after the start');
  await composer.getByLabel('Ends').fill(`${day}T16:30`);
  await composer.getByRole('checkbox', { name: 'Layla Nasser' }).check();
  await composer.getByRole('button', { name: 'Add to timeline' }).click();
  const entry = page.getByTestId('timeline-item').filter({ hasText: subject });
  await expect(entry.getByTestId('meeting-time')).toContainText('Layla Nasser');
  await expect(entry.getByTestId('meeting-time')).toContainText('Karim Adel');
  // When it was logged reads as a relative time, with the exact one on hover.
  await expect(entry.locator('time')).toHaveText('just now');
  await expect(entry.locator('time')).toHaveAttribute('title', /2026|20\d\d/);

  // The manager makes a calendar link, and a calendar app fetching it sees the meeting.
  const manager = await (await browser.newContext()).newPage();
  await signIn(manager, 'manager@demo.leadline.test');
  await manager.goto('/tasks');
  await hydrated(manager);
  await expect(manager.getByTestId('meetings').getByTestId('meeting').filter({ hasText: subject })).toContainText(name);
  await manager.goto('/settings/calendar');
  await hydrated(manager);
  await manager.getByRole('button', { name: 'Create calendar link' }).click();
  const url = await manager.getByLabel('Your calendar link').inputValue();
  expect(url).toMatch(/\/calendar\/[0-9a-f]{64}\.ics$/);
  const feed = await request.get(url);
  expect(feed.status()).toBe(200);
  expect(feed.headers()['content-type']).toBe('text/calendar; charset=utf-8');
  const ics = (await feed.text()).replace(/\r\n /g, '');
  expect(ics).toContain(`SUMMARY:${subject}\r\n`);
  // The demo workspace keeps UTC, so 15:00 typed is 15:00 in the feed.
  expect(ics).toContain(`DTSTART:${day.replace(/-/g, '')}T150000Z\r\n`);
  expect(await violations(manager)).toEqual([]);

  // Replacing the link turns the old one off.
  await expect(manager.getByText('Link on')).toBeVisible();
  await manager.getByRole('button', { name: 'Replace link' }).click();
  await expect(manager.getByLabel('Your calendar link')).not.toHaveValue(url);
  expect((await request.get(url)).status()).toBe(404);
  await manager.getByRole('button', { name: 'Turn off link' }).click();
  await expect(manager.getByText('You have no calendar link yet.')).toBeVisible();
  await expect(manager.getByLabel('Your calendar link')).toHaveCount(0);
});
