import { test, expect } from '@playwright/test';
import { readFileSync } from 'fs';
import { join } from 'path';
import { hydrated, signIn, unique, violations } from './helpers';


// The export checks that the imported people are in the file, so the two run in order.
test.describe.serial('CSV import and export', () => {
  const run = unique('imp');
  const digits = (n: number) => String(Math.floor(Math.random() * 10 ** n)).padStart(n, '0');
  const arabicName = `ليلى حسن ${run}`;

  test('import contacts with bad rows, follow the job, download the failed rows', async ({ page }) => {
    // Excel's "CSV UTF-8" with semicolons: BOM, CRLF, a cell over two lines, Arabic.
    const csv =
      '\ufeffName;Email;Phone;Notes\r\n' +
      `${arabicName};laila-${run}@example.com;0100 ${digits(7)};"two\r\nlines"\r\n` +
      `Omar ${run};omar-${run}@example.com;+1 415 555 ${digits(4)};\r\n` +
      `;nobody-${run}@example.com;;no name\r\n` +
      'Bad Email;not-an-email;;\r\n';
    await signIn(page, 'owner@demo.leadline.test');
    await page.goto('/import');
    await hydrated(page);
    expect(await violations(page), '/import').toEqual([]);
    await page.getByLabel('What does the file hold?').selectOption('CONTACT');

    // Uploading nothing says what to do, next to the field.
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await expect(page.locator('#f-file-error')).toContainText('Choose a CSV file');

    await page.getByLabel('CSV file').setInputFiles({
      name: 'contacts.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(csv, 'utf8'),
    });
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await expect(page.getByTestId('upload-summary')).toContainText('4 rows');
    await expect(page.locator('#map-0')).toHaveValue('name');
    await expect(page.locator('#map-1')).toHaveValue('email');
    await expect(page.locator('#map-2')).toHaveValue('phone');
    await expect(page.locator('#map-3')).toHaveValue('');

    const preview = page.getByTestId('preview');
    await expect(preview.locator('tr[data-outcome="create"]')).toHaveCount(2);
    await expect(preview.locator('tr[data-outcome="fail"]')).toHaveCount(2);
    await expect(preview).toContainText('+20100');
    await expect(preview).toContainText('Name is required.');
    expect(await violations(page), 'mapping and preview').toEqual([]);

    await page.getByLabel('Update the existing record').check();
    await page.getByTestId('start-import').click();
    await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}$/);
    await expect(page.getByTestId('count-created')).toHaveText('2', { timeout: 30_000 });
    await expect(page.getByTestId('count-failed')).toHaveText('2');
    await expect(page.getByTestId('count-skipped')).toHaveText('0');
    expect(await violations(page), 'job summary').toEqual([]);

    // The job's log says how it went, attempt by attempt.
    const log = page.getByRole('region', { name: 'Log' });
    await expect(log).toContainText('Attempt 1 of 3 started.');
    await expect(log).toContainText('Finished.');
    const jobUrl = page.url();

    // The bell in the top bar says the import has finished.
    const bell = page.getByTestId('bell');
    const summary = bell.locator('summary');
    await expect(summary).toHaveAttribute('aria-label', /^Notifications, \d+ unread$/, { timeout: 20_000 });
    await summary.click();
    await expect(bell.getByTestId('bell-items')).toContainText('contacts.csv has finished', { timeout: 20_000 });

    // An admin finds it among every member's jobs, with its attempts, in Settings.
    await page.goto('/settings/jobs');
    await hydrated(page);
    const row = page.getByTestId('job-row').filter({ hasText: 'contacts.csv' }).first();
    await expect(row).toContainText('Done');
    await expect(row).toContainText('1/3');
    await page.getByRole('group', { name: 'Show jobs' }).getByRole('button', { name: /^Done/ }).click();
    await expect(page.getByRole('button', { name: /^Done/ })).toHaveAttribute('aria-pressed', 'true');
    await expect(row).toBeVisible();
    await page.getByRole('button', { name: /^Gave up/ }).click();
    await expect(page.getByTestId('job-row').filter({ hasText: 'contacts.csv' })).toHaveCount(0);
    await page.goto(jobUrl);
    await hydrated(page);

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByTestId('errors-download').click(),
    ]);
    expect(download.suggestedFilename()).toBe('contacts-errors.csv');
    const text = readFileSync(await download.path(), 'utf8');
    expect(text.startsWith('\ufeff')).toBe(true);
    const lines = text.slice(1).split('\r\n').filter((l) => l.length > 0);
    expect(lines[0]).toBe('Name;Email;Phone;Notes;Line;Error');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toBe(`;nobody-${run}@example.com;;no name;5;Name is required.`);
    expect(lines[2]).toContain('not-an-email');
    expect(lines[2]).toContain(';6;');
    expect(lines[2]).toContain('is not an email address.');
  });

  test('export contacts and download the file', async ({ page }) => {
    await signIn(page, 'owner@demo.leadline.test');
    await page.goto('/import');
    await hydrated(page);
    const exporter = page.getByTestId('export-contacts');
    await exporter.getByRole('button', { name: 'Export Contacts' }).click();
    const link = exporter.getByTestId('export-download');
    await expect(link).toBeVisible({ timeout: 30_000 });
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toMatch(/^contacts-[0-9-]+\.csv$/);
    const text = readFileSync(await download.path(), 'utf8');
    expect(text.startsWith('\ufeff')).toBe(true);
    expect(text.slice(1).split('\r\n')[0]).toBe(
      'Name,Email,Phone,Job title,Company,Tags,Owner email,Created',
    );
    expect(text).toContain(`${arabicName},laila-${run}@example.com,+20100`);
    expect(text).toContain(`Omar ${run},omar-${run}@example.com,+1415`);
    expect(text).toContain('owner@demo.leadline.test');

    // The job is listed under the member's recent jobs, and the page holds at 390 px.
    await page.setViewportSize({ width: 390, height: 800 });
    await page.reload();
    await hydrated(page);
    await expect(page.getByRole('link', { name: /Contacts export/ }).first()).toBeVisible();
    expect(await violations(page), '/import at 390 px').toEqual([]);
  });
});

test('import contacts from an Excel workbook', async ({ page }) => {
  // A real .xlsx (deflated zip, inline strings, a number cell), as Excel saves one.
  await signIn(page, 'owner@demo.leadline.test');
  await page.goto('/import');
  await hydrated(page);
  await page.getByLabel('What does the file hold?').selectOption('CONTACT');
  await page.getByLabel('CSV file').setInputFiles(join(__dirname, 'fixtures', 'contacts.xlsx'));
  await page.getByRole('button', { name: 'Upload', exact: true }).click();
  await expect(page.getByTestId('upload-summary')).toContainText('2 rows');
  await expect(page.locator('#map-0')).toHaveValue('name');
  await expect(page.locator('#map-1')).toHaveValue('email');
  const preview = page.getByTestId('preview');
  await expect(preview).toContainText('نور الهدى سالم');
  await expect(preview.locator('tr[data-outcome="create"]')).toHaveCount(2);
  await page.getByTestId('start-import').click();
  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}$/);
  await expect(page.getByTestId('count-created')).toHaveText('2', { timeout: 30_000 });
  await expect(page.getByTestId('count-failed')).toHaveText('0');
});
