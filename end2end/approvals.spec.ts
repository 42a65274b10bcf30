import { test, expect, Page, Browser } from '@playwright/test';
import { hydrated, signIn, unique, violations } from './helpers';

function column(page: Page, stage: string) {
  return page.locator(`[data-testid="column"][data-stage="${stage}"]`);
}

function card(page: Page, name: string) {
  return page.locator(`[data-testid="deal-card"][data-name="${name}"]`);
}

async function as(browser: Browser, email: string) {
  const page = await browser.newPage({ viewport: { width: 2200, height: 1000 } });
  await signIn(page, email);
  return page;
}

/** Opens the Approvals tab of the review queue and selects the request for `deal`. */
async function openRequest(page: Page, deal: string) {
  await page.goto('/review?tab=approvals');
  await hydrated(page);
  const item = page.getByTestId('approval-item').filter({ hasText: deal });
  await expect(item).toBeVisible();
  await item.getByRole('button').click();
  await expect(page.getByTestId('approval-detail')).toContainText(deal);
}

// Wide enough for all six columns: a drop target scrolled into view mid-drag cancels
// the drag in Chromium.
test.use({ viewport: { width: 2200, height: 1000 } });

test('a two-level rule holds a rep\'s move until a manager and the owner approve it', async ({ page, browser }) => {
  // The admin makes a pipeline of their own, so no other spec's deals are guarded.
  await signIn(page, 'admin@demo.leadline.test');
  await page.goto('/pipeline');
  await hydrated(page);
  const pipeline = unique('Approvals');
  await page.getByTestId('new-pipeline').click();
  await page.getByLabel('Pipeline name').fill(pipeline);
  await page.getByRole('button', { name: 'Create pipeline' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(pipeline);
  const boardUrl = page.url();

  // Settings → Approvals: a rule with no level is refused next to the field.
  await page.goto('/settings/approvals');
  await hydrated(page);
  expect(await violations(page), '/settings/approvals').toEqual([]);
  const form = page.getByTestId('rule-form');
  const rule = unique('Closing');
  await form.getByLabel('Rule name').fill(rule);
  await form.getByLabel('Stage').selectOption({ label: `${pipeline} › Closed` });
  await form.getByRole('button', { name: 'Add rule' }).click();
  await expect(page.locator('#f-level_1-error')).toContainText('at least one level');
  await form.getByLabel('Level 1 approver').selectOption({ label: 'Managers' });
  await form.getByLabel('Level 2 approver').selectOption({ label: 'Owners' });
  await form.getByRole('button', { name: 'Add rule' }).click();
  const row = page.getByTestId('rules-table').getByRole('row').filter({ hasText: rule });
  await expect(row).toContainText(`Moved into ${pipeline} › Closed`);
  await expect(row).toContainText('Managers');
  await expect(row).toContainText('Owners');

  // The rep's move to Closed is held: the card stays in Lead with a marker.
  const rep = await as(browser, 'sales@demo.leadline.test');
  await rep.goto(boardUrl);
  await hydrated(rep);
  const deal = unique('Villa');
  await rep.getByTestId('new-deal').click();
  const dealForm = rep.getByTestId('new-deal-form');
  await dealForm.getByLabel('Deal name').fill(deal);
  await dealForm.getByLabel('Amount').fill('4,500,000');
  await dealForm.getByRole('button', { name: 'Create deal' }).click();
  await expect(card(rep, deal)).toBeVisible();
  await card(rep, deal).dragTo(column(rep, 'Closed'));
  await expect(rep.getByRole('alert').filter({ hasText: 'needs approval' })).toHaveText(
    'Moving to Closed needs approval: sent to Managers.',
  );
  await expect(column(rep, 'Lead').locator(`[data-name="${deal}"]`)).toBeVisible();
  await expect(card(rep, deal).getByTestId('awaiting-approval')).toHaveText('Awaiting approval: Closed');
  await rep.reload();
  await hydrated(rep);
  await expect(column(rep, 'Lead').locator(`[data-name="${deal}"]`).getByTestId('awaiting-approval')).toBeVisible();

  // The manager approves level 1 from the queue with the keyboard.
  const manager = await as(browser, 'manager@demo.leadline.test');
  await openRequest(manager, deal);
  expect(await violations(manager), '/review?tab=approvals').toEqual([]);
  await expect(manager.getByTestId('approval-detail')).toContainText('Level 1 of 2');
  await manager.keyboard.press('a');
  await expect(manager.getByTestId('approval-outcome')).toHaveText('Approved. It now waits for Owners.');
  await rep.reload();
  await hydrated(rep);
  await expect(column(rep, 'Lead').locator(`[data-name="${deal}"]`)).toBeVisible();

  // The owner approves level 2 with a comment; the move applies.
  const owner = await as(browser, 'owner@demo.leadline.test');
  await openRequest(owner, deal);
  await expect(owner.getByTestId('approval-history')).toContainText('Layla Nasser');
  await owner.getByLabel('Comment (required to reject)').fill('Signed contract seen');
  await owner.getByRole('button', { name: 'Approve' }).click();
  await expect(owner.getByTestId('approval-outcome')).toHaveText(`Approved: ${deal} is now in Closed.`);

  await rep.reload();
  await hydrated(rep);
  await expect(column(rep, 'Closed').locator(`[data-name="${deal}"]`)).toBeVisible();
  await expect(card(rep, deal).getByTestId('awaiting-approval')).toHaveCount(0);
  // The rep hears of it in the bell.
  await rep.getByTestId('bell').locator('summary').click();
  await expect(rep.getByTestId('bell-items')).toContainText(`approved moving ${deal} to Closed`);

  for (const p of [rep, manager, owner]) await p.close();
});
