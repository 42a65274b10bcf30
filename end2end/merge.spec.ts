import { test, expect } from '@playwright/test';
import { hydrated, signIn, violations } from './helpers';

test('two contacts of one person are found, merged field by field, and the merge is undone', async ({ page }) => {
  await signIn(page, 'sales@demo.leadline.test');
  const tag = `${Date.now()}`;
  const kept = `Laila Nabil ${tag}`;
  const other = `Laila N ${tag}`;
  const phone = `010${tag.slice(-8)}`;

  const create = async (name: string, email: string, phoneNumber?: string) => {
    await page.goto('/contacts');
    await hydrated(page);
    await page.getByTestId('new-record').click();
    const form = page.getByTestId('new-record-form');
    await form.getByLabel('Name').fill(name);
    await form.getByLabel('Email').fill(email);
    if (phoneNumber) await form.getByLabel('Phone').fill(phoneNumber);
    await form.getByRole('button', { name: 'Save' }).click();
    await expect(page).toHaveURL(/\/contacts\/[0-9a-f-]+$/);
    return page.url();
  };
  // One address written two ways Gmail delivers to the same inbox.
  const otherUrl = await create(other, `lai.la.${tag}+work@gmail.com`, phone);
  const keptUrl = await create(kept, `laila.${tag}@gmail.com`);

  // The workspace's list of pairs has them.
  await page.goto('/contacts');
  await hydrated(page);
  await page.getByRole('link', { name: 'Find duplicates' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Duplicate contacts');
  const pair = page.getByTestId('duplicate-pair').filter({ hasText: kept });
  await expect(pair).toContainText(other);
  await expect(pair).toContainText('Same email');

  await page.goto(keptUrl);
  await hydrated(page);

  const card = page.getByTestId('duplicates');
  await expect(card).toContainText(other);
  await expect(card).toContainText('Same email');
  await page.getByRole('button', { name: `Merge ${other} into this record` }).click();
  const dialog = page.getByRole('dialog', { name: `Merge ${other}` });
  await expect(dialog.getByRole('group', { name: 'Name' })).toBeVisible();
  expect(await violations(page)).toEqual([]);
  // This contact has no phone: the other's is proposed; keep this one's email.
  await expect(dialog.getByRole('group', { name: 'Phone' }).getByRole('radio').nth(1)).toBeChecked();
  await expect(dialog.getByRole('group', { name: 'Email' }).getByRole('radio').nth(0)).toBeChecked();
  await dialog.getByRole('button', { name: 'Merge', exact: true }).click();

  await expect(page.getByRole('dialog')).toHaveCount(0);
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(kept);
  await expect(page.getByTestId('facts')).toContainText(`+2010${tag.slice(-8)}`);
  await expect(page.getByTestId('facts')).toContainText(`laila.${tag}@gmail.com`);
  await expect(page.getByTestId('timeline')).toContainText(`Merged ${other} into this record`);
  await expect(page.getByTestId('duplicates')).not.toContainText(other);

  // The merged contact's address says where it went.
  await page.goto(otherUrl);
  await hydrated(page);
  await expect(page.getByTestId('merged-into').getByRole('link', { name: kept })).toBeVisible();

  // Undo brings it back as it was, and this contact loses the phone it took.
  await page.goto(keptUrl);
  await hydrated(page);
  await page.getByRole('button', { name: `Undo the merge of ${other}` }).click();
  await expect(page.getByTestId('past-merges')).toContainText('Undone');
  await expect(page.getByTestId('facts')).not.toContainText(`+2010${tag.slice(-8)}`);
  await page.goto(otherUrl);
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(other);
  await expect(page.getByTestId('facts')).toContainText(`+2010${tag.slice(-8)}`);
});

test('typing the email or phone of a contact already there warns before it is saved twice', async ({ page }) => {
  await signIn(page, 'sales@demo.leadline.test');
  const tag = `${Date.now()}`;
  const name = `Karim Adel ${tag}`;
  await page.goto('/contacts');
  await hydrated(page);
  await page.getByTestId('new-record').click();
  let form = page.getByTestId('new-record-form');
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('Email').fill(`karim.${tag}@example.com`);
  await form.getByLabel('Phone').fill(`011${tag.slice(-8)}`);
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(page).toHaveURL(/\/contacts\/[0-9a-f-]+$/);
  const existing = page.url();

  await page.goto('/contacts');
  await hydrated(page);
  await page.getByTestId('new-record').click();
  form = page.getByTestId('new-record-form');
  await form.getByLabel('Name').fill('Karim A.');
  await form.getByLabel('Email').fill(`KARIM.${tag}@example.com`);
  await form.getByLabel('Phone').focus();
  const warning = form.getByTestId('possible-duplicates');
  await expect(warning).toContainText('This may already be in the workspace');
  await expect(warning.getByRole('link', { name })).toHaveAttribute('href', new URL(existing).pathname);
  await expect(warning).toContainText('Same email');
  await form.getByLabel('Phone').fill(`011 ${tag.slice(-8, -4)} ${tag.slice(-4)}`);
  await form.getByLabel('Name').focus();
  await expect(warning).toContainText('Same phone');
  expect(await violations(page), 'new contact with a warning').toEqual([]);
});
