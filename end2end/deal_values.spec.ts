import { test, expect, Page } from '@playwright/test';
import { hydrated, signIn, unique } from './helpers';

function column(page: Page, stage: string) {
  return page.locator(`[data-testid="column"][data-stage="${stage}"]`);
}

test.use({ viewport: { width: 2200, height: 1000 } });

test('editing a deal\'s amount and chance to win changes its weighted value and its column\'s', async ({ page }) => {
  await signIn(page, 'owner@demo.leadline.test');
  await page.goto('/pipeline');
  await hydrated(page);
  await page.getByTestId('new-pipeline').click();
  await page.getByLabel('Pipeline name').fill(unique('Weighted'));
  await page.getByRole('button', { name: 'Create pipeline' }).click();
  await expect(page).toHaveURL(/\/pipeline\/[0-9a-f-]+$/);
  await hydrated(page);
  const board = page.url();

  const name = unique('Penthouse');
  await page.getByTestId('new-deal').click();
  const form = page.getByTestId('new-deal-form');
  await form.getByLabel('Deal name').fill(name);
  await form.getByLabel('Amount').fill('1,000,000');
  await form.getByRole('button', { name: 'Create deal' }).click();
  const card = page.locator(`[data-testid="deal-card"][data-name="${name}"]`);
  // A new deal takes its stage's chance: Lead is 10 %.
  await expect(card.getByTestId('card-weighted')).toHaveText('10% → USD 100,000');
  await expect(column(page, 'Lead').getByTestId('column-weighted')).toHaveText('Weighted: USD 100,000');

  const id = await card.getAttribute('data-deal');
  await page.goto(`/deals/${id}`);
  await hydrated(page);
  await page.getByTestId('edit-record').click();
  const edit = page.getByTestId('edit-form');
  await edit.locator('#f-amount').fill('3,000,000');
  await edit.locator('#f-probability').fill('40');
  await edit.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('facts')).toContainText('USD 3,000,000');

  await page.goto(board);
  await hydrated(page);
  await expect(card.getByTestId('card-weighted')).toHaveText('40% → USD 1,200,000');
  await expect(column(page, 'Lead').getByTestId('column-weighted')).toHaveText('Weighted: USD 1,200,000');

  // Moved by keyboard to Proposal, it takes that stage's 50 %, in both columns' totals.
  await card.focus();
  const version = Number(await card.getAttribute('data-version'));
  await page.keyboard.press('Shift+ArrowRight');
  await expect(card).toHaveAttribute('data-version', String(version + 1));
  await expect(card).toBeFocused();
  await page.keyboard.press('Shift+ArrowRight');
  await expect(column(page, 'Proposal').getByTestId('column-weighted')).toHaveText('Weighted: USD 1,500,000');
  await expect(column(page, 'Lead').getByTestId('column-weighted')).toHaveCount(0);
  await page.reload();
  await hydrated(page);
  await expect(column(page, 'Proposal').getByTestId('column-weighted')).toHaveText('Weighted: USD 1,500,000');
});
