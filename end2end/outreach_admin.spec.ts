import { test, expect } from '@playwright/test';
import { hydrated, newWorkspace, signIn, unique, violations } from './helpers';

// Both tests make their own records (a unique address, a new sequence) and leave the
// demo workspace's shared ones alone.

test('add an address to the suppression list, import a CSV, and lift it with a reason', async ({ page }) => {
  await signIn(page, 'admin@demo.leadline.test');
  await page.goto('/outreach/suppressions');
  await hydrated(page);
  await expect(page.getByRole('heading', { name: 'Suppression list' })).toBeVisible();
  expect(await violations(page), '/outreach/suppressions').toEqual([]);

  const form = page.getByTestId('suppression-form');
  // A national number is refused next to the field, with what to do.
  await form.getByLabel('Email or phone').fill('0100 123 4567');
  await form.getByRole('button', { name: 'Add to the list' }).click();
  await expect(form.locator('.field-error')).toContainText('international form');

  const address = `${unique('blocked').toLowerCase()}@example.com`;
  await form.getByLabel('Email or phone').fill(address.toUpperCase());
  await form.getByLabel('Note (optional)').fill('Asked us by phone');
  await form.getByRole('button', { name: 'Add to the list' }).click();
  await expect(form.getByRole('status')).toContainText('Added to the suppression list');

  const search = page.getByTestId('suppression-search');
  await search.fill(address);
  const row = page.locator(`[data-testid="suppression-row"][data-address="${address}"]`);
  await expect(row).toContainText('Added by hand by Omar Farouk');
  await expect(row).toContainText('Asked us by phone');

  // A CSV file: one added, one already there (the address above), one invalid.
  const imported = `${unique('csv').toLowerCase()}@example.com`;
  await page.getByLabel('CSV file').setInputFiles({
    name: 'suppress.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from(`email\n${imported}\n${address}\nnot-an-email\n`),
  });
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  const report = page.getByTestId('import-report');
  await expect(report).toContainText('Added: 1.');
  await expect(report).toContainText('Already on the list: 1 (lines 3).');
  await expect(report).toContainText('Line 4: “not-an-email”');

  // Lifting needs a reason; with one, the address leaves the list.
  await search.fill(address);
  await row.getByRole('button', { name: `Lift the suppression of ${address}` }).click();
  const lift = page.getByTestId('lift-form');
  await lift.getByRole('button', { name: 'Lift suppression' }).click();
  await expect(lift.locator('.field-error')).toContainText('at least 3 characters');
  await lift.getByLabel('Reason for lifting').fill('The customer asked to hear from us again');
  await lift.getByRole('button', { name: 'Lift suppression' }).click();
  await expect(row).toHaveCount(0);
  await expect(page.getByText('No suppressed addresses match')).toBeVisible();
  // The imported one is still there.
  await search.fill(imported);
  await expect(page.locator(`[data-testid="suppression-row"][data-address="${imported}"]`)).toContainText('Imported by Omar Farouk');
});

test('reorder the steps of a new sequence with the keyboard and see the order after a reload', async ({ page }) => {
  await signIn(page, 'admin@demo.leadline.test');
  await page.goto('/outreach/sequences');
  await hydrated(page);
  await page.getByTestId('sequence-form').getByLabel('Name').fill(unique('Reorder'));
  await page.getByRole('button', { name: 'Create sequence' }).click();
  await expect(page).toHaveURL(/\/outreach\/sequences\/[0-9a-f-]+$/);
  await hydrated(page);

  // Three steps on the first template, told apart by their delays.
  const stepForm = page.getByTestId('step-form');
  const steps = page.getByTestId('step');
  for (const [i, delay] of ['5', '10', '20'].entries()) {
    await stepForm.getByLabel('Delay (minutes)').fill(delay);
    await stepForm.getByRole('button', { name: 'Add step' }).click();
    await expect(steps).toHaveCount(i + 1);
  }
  await expect(steps.nth(0)).toContainText('after 5 min');

  // Step 1 goes down twice by keyboard; the focus follows it.
  await page.getByRole('button', { name: 'Move down: step 1' }).focus();
  await page.keyboard.press('Enter');
  await expect(steps.nth(0)).toContainText('after 10 min');
  await expect(steps.nth(1)).toContainText('after 5 min');
  await expect(page.getByRole('button', { name: 'Move down: step 2' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(steps.nth(2)).toContainText('after 5 min');

  await page.reload();
  await hydrated(page);
  await expect(steps.nth(0)).toContainText('after 10 min');
  await expect(steps.nth(1)).toContainText('after 20 min');
  await expect(steps.nth(2)).toContainText('after 5 min');

  // Editing a step: a bad delay is refused next to the field, a good one is saved.
  await page.getByRole('button', { name: 'Edit step 3' }).click();
  const edit = page.getByTestId('step-edit-form');
  await edit.getByLabel('Delay (minutes)').fill('-5');
  await edit.getByRole('button', { name: 'Save' }).click();
  await expect(edit.locator('.field-error')).toBeVisible();
  await edit.getByLabel('Delay (minutes)').fill('90');
  await edit.getByLabel('Email subject for this step').fill('Still thinking, {{first_name}}?');
  await edit.getByLabel('Sender name for this step').fill('Sara from Nile');
  await edit.getByRole('button', { name: 'Save' }).click();
  await expect(steps.nth(2)).toContainText('after 1 h 30 min');
  await expect(steps.nth(2)).toContainText('Subject: Still thinking, {{first_name}}?');
  await expect(steps.nth(2)).toContainText('From: Sara from Nile');

  // A condition on the score: without a value it is refused next to the field.
  await stepForm.getByLabel('Step type').selectOption({ label: 'Branch on a condition' });
  await stepForm.getByLabel('Condition').selectOption({ label: 'A field of the lead' });
  await stepForm.getByLabel('Field', { exact: true }).selectOption({ label: 'Score is at least' });
  await stepForm.getByLabel('If not').selectOption({ label: 'End the sequence' });
  await stepForm.getByRole('button', { name: 'Add step' }).click();
  await expect(stepForm.locator('.field-error')).toContainText('Enter a value this condition can compare');
  await stepForm.getByLabel('Value', { exact: true }).fill('60');
  await stepForm.getByRole('button', { name: 'Add step' }).click();
  await expect(steps).toHaveCount(4);
  await expect(steps.nth(3)).toContainText('If the score is at least 60: Go on to the next step. Otherwise: End the sequence.');
  expect(await violations(page), '/outreach/sequences/:id').toEqual([]);

  // A launch moment: nonsense is refused next to the field; a date and time is kept.
  const settings = page.getByTestId('sequence-settings');
  await settings.getByLabel('Start sending at').fill('2040-01-01T09:00');
  await settings.getByRole('button', { name: 'Save' }).click();
  await expect(settings.locator('#f-starts_at-error')).toContainText('within the next year');
  const next = new Date(Date.now() + 5 * 86_400_000).toISOString().slice(0, 10);
  await settings.getByLabel('Start sending at').fill(`${next}T09:30`);
  await settings.getByRole('button', { name: 'Save' }).click();
  await expect(settings.locator('#f-starts_at-error')).toHaveCount(0);
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('sequence-settings').getByLabel('Start sending at')).toHaveValue(`${next}T09:30`);

  // Sending hours on a weekday grid: weekdays 09:00-17:00 to start with, Friday until
  // 13:00, Monday evenings too.
  const hours = page.getByTestId('sequence-hours');
  await hours.getByLabel('Only in these hours').check();
  await expect(hours.getByLabel('Open on Monday')).toBeChecked();
  await expect(hours.getByLabel('Open on Saturday')).not.toBeChecked();
  await hours.getByLabel('Friday closes').fill('13:00');
  await hours.getByLabel('Monday second window opens').fill('19:00');
  await hours.getByLabel('Monday second window closes').fill('21:00');
  await page.getByTestId('sequence-settings').getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('sequence-settings').locator('.field-error')).toHaveCount(0);
  await page.reload();
  await hydrated(page);
  const saved = page.getByTestId('sequence-hours');
  await expect(saved.getByLabel('Friday closes')).toHaveValue('13:00');
  await expect(saved.getByLabel('Monday second window opens')).toHaveValue('19:00');
  await expect(saved.getByLabel('Open on Sunday')).not.toBeChecked();
  // No day open is not "any time".
  for (const day of ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday']) {
    await saved.getByLabel(`Open on ${day}`).uncheck();
  }
  await expect(saved.getByRole('alert')).toContainText('Tick at least one day');
  expect(await violations(page), 'sequence hours grid').toEqual([]);
});

test('an admin archives a sequence: it leaves the list and takes no enrolments until restored', async ({ page }) => {
  await signIn(page, 'admin@demo.leadline.test');
  await page.goto('/outreach/sequences');
  await hydrated(page);
  const name = unique('Autumn launch');
  await page.getByTestId('sequence-form').getByLabel('Name').fill(name);
  await page.getByRole('button', { name: 'Create sequence' }).click();
  await expect(page).toHaveURL(/\/outreach\/sequences\/[0-9a-f-]+$/);
  await hydrated(page);
  const url = page.url();

  await page.getByRole('button', { name: 'Archive' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'This sequence is archived' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Pause' })).toHaveCount(0);
  expect(await violations(page), 'an archived sequence').toEqual([]);

  await page.goto('/outreach/sequences');
  await hydrated(page);
  const table = page.getByTestId('sequences-table');
  await expect(table.getByRole('link', { name })).toHaveCount(0);
  await page.getByRole('checkbox', { name: /Show \d+ archived sequences?/ }).check();
  await expect(table.getByRole('link', { name })).toBeVisible();

  await page.goto(url);
  await hydrated(page);
  await page.getByRole('button', { name: 'Restore' }).click();
  await expect(page.getByRole('button', { name: 'Resume' })).toBeVisible();
  await expect(page.locator('[data-status="PAUSED"]').first()).toBeVisible();
});

test('a template a live sequence uses is not archived, and the page says which sequence', async ({ page }) => {
  await signIn(page, 'admin@demo.leadline.test');
  await page.goto('/outreach/templates');
  await hydrated(page);
  await page.getByTestId('templates-table').getByRole('link').first().click();
  await expect(page).toHaveURL(/\/outreach\/templates\/[0-9a-f-]+$/);
  await hydrated(page);
  await page.getByRole('button', { name: 'Archive' }).click();
  await expect(page.getByRole('alert')).toContainText('These sequences still use this template');
  await expect(page.getByRole('button', { name: 'Archive' })).toBeVisible();
});

test('an admin archives a mailbox and restores it; it stays listed, marked archived', async ({ page }) => {
  await newWorkspace(page, 'Nour');
  await page.goto('/outreach/senders');
  await hydrated(page);
  const domain = `nour${Date.now()}.test`;
  await page.getByTestId('domain-form').getByLabel('Domain').fill(domain);
  await page.getByRole('button', { name: 'Add domain' }).click();
  await expect(page.getByTestId('domains')).toContainText(domain);
  await page.locator('summary', { hasText: 'Add mailbox' }).click();
  const form = page.getByTestId('mailbox-form');
  await form.getByLabel('From address').fill(`sales@${domain}`);
  await form.getByLabel('From name').fill('Nour Sales');
  await form.getByLabel('SMTP host').fill('127.0.0.1');
  await form.getByRole('button', { name: 'Add mailbox' }).click();
  const table = page.getByTestId('mailboxes-table');
  await expect(table).toContainText(`sales@${domain}`);

  await page.getByRole('button', { name: `Archive sales@${domain}` }).click();
  await expect(table).toContainText('Archived');
  // The domain is archived once its mailbox is, and restored before it.
  const domains = page.getByTestId('domains');
  await page.getByRole('button', { name: `Archive ${domain}` }).click();
  await expect(domains).toContainText('Archived');
  await page.getByRole('button', { name: `Restore sales@${domain}` }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'Restore the domain first' })).toBeVisible();
  await page.getByRole('button', { name: `Restore ${domain}` }).click();
  await expect(domains).not.toContainText('Archived');
  await page.getByRole('button', { name: `Restore sales@${domain}` }).click();
  await expect(table).not.toContainText('Archived');
  await expect(page.getByRole('button', { name: `Archive sales@${domain}` })).toBeVisible();
  expect(await violations(page), '/outreach/senders').toEqual([]);
});

test('an admin attaches a brochure to an email template, is told what cannot go, and removes it', async ({ page }) => {
  await newWorkspace(page, 'Salma');
  await page.goto('/outreach/templates');
  await hydrated(page);
  const form = page.getByTestId('template-form');
  await form.getByLabel('Name', { exact: true }).fill('Brochure mail');
  await form.getByLabel('Channel').selectOption('EMAIL');
  await form.getByLabel('Subject').fill('Our brochure');
  await form.getByLabel('Message').fill('Dear {{first_name}}, the brochure is attached.');
  await form.getByRole('button', { name: 'Create template' }).click();
  await expect(page).toHaveURL(/\/outreach\/templates\/[0-9a-f-]+$/);
  await hydrated(page);

  await expect(page.getByRole('heading', { name: 'Attachments' })).toBeVisible();
  await expect(page.getByTestId('template-files-empty')).toHaveText('No file yet.');
  const attach = page.getByTestId('template-file-form');
  // A page of HTML is no attachment: refused next to the field, with what is taken.
  await attach.getByLabel('Choose a file').setInputFiles({
    name: 'offer.pdf', mimeType: 'application/pdf', buffer: Buffer.from('<html><script>alert(1)</script></html>'),
  });
  await attach.getByRole('button', { name: 'Upload' }).click();
  await expect(attach.locator('.field-error')).toContainText('Use a PDF, PNG or JPEG image');
  await expect(attach.getByLabel('Choose a file')).toHaveAttribute('aria-invalid', 'true');

  const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(300 * 1024, 7)]);
  await attach.getByLabel('Choose a file').setInputFiles({ name: 'Nile Towers brochure.pdf', mimeType: 'application/pdf', buffer: pdf });
  await attach.getByRole('button', { name: 'Upload' }).click();
  const files = page.getByRole('list', { name: 'Files of this template' });
  await expect(files.getByRole('link', { name: 'Nile Towers brochure.pdf' })).toBeVisible();
  await expect(files).toContainText('300\u00a0KB');
  expect(await violations(page), 'template with a file').toEqual([]);

  // The link downloads the very file.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    files.getByRole('link', { name: 'Nile Towers brochure.pdf' }).click(),
  ]);
  expect(download.suggestedFilename()).toBe('Nile Towers brochure.pdf');

  await files.getByRole('button', { name: 'Remove Nile Towers brochure.pdf' }).click();
  await expect(page.getByTestId('template-files-empty')).toBeVisible();
});
