import { test, expect, Page } from '@playwright/test';
import { hydrated, signIn, unique, violations } from './helpers';

const PEER = process.env.PEER_URL || 'http://127.0.0.1:4900';

async function selectByText(page: Page, label: string, text: string) {
  const select = page.getByLabel(label, { exact: true });
  const value = await select.locator('option', { hasText: text }).first().getAttribute('value');
  await select.selectOption(value!);
}

test('build a WhatsApp-then-email sequence, enrol a list, deliver and reply through the peer, and watch the journey move', { tag: '@smoke' }, async ({ page, context, browser }) => {
  test.setTimeout(120_000);
  await signIn(page, 'owner@demo.leadline.test');

  // The demo's week of history is already on the dashboard: what this test adds is
  // counted on top of it.
  await page.goto('/outreach');
  await hydrated(page);
  const funnelBefore = page.getByTestId('funnel');
  const contactedBefore = Number(await funnelBefore.getAttribute('data-contacted'));
  const repliedBefore = Number(await funnelBefore.getAttribute('data-replied'));
  expect(contactedBefore, 'the demo has a week of outreach').toBeGreaterThanOrEqual(14);

  // A WhatsApp template: the live preview renders it for a real lead, and says where a
  // mistake is, before anything is saved.
  await page.goto('/outreach/templates');
  await hydrated(page);
  const waName = unique('Viewing offer');
  const form = page.getByTestId('template-form');
  await form.getByLabel('Name', { exact: true }).fill(waName);
  await form.getByLabel('Meta template name').fill('viewing_offer');
  await form.getByLabel('Meta approval').selectOption('APPROVED');
  await form.getByLabel('Message').fill('Hi {{first_name}, a viewing?');
  await expect(form.getByTestId('preview-error')).toContainText('Character 4');
  await form.getByLabel('Message').fill('{Hi|Hello} {{first_name}}, shall we book a viewing at {{company|our project}}?');
  await form.getByLabel('Preview for lead').fill('Mona');
  await form.getByRole('button', { name: 'Mona Zaki' }).click();
  await expect(form.getByTestId('preview-body')).toContainText('Mona, shall we book a viewing at Nile Towers Developments?');
  await form.getByRole('button', { name: 'Create template' }).click();
  await expect(page).toHaveURL(/\/outreach\/templates\/[0-9a-f-]+$/);

  // An email template; a missing subject is reported next to the field.
  await page.goto('/outreach/templates');
  await hydrated(page);
  const mailName = unique('Price list');
  await form.getByLabel('Name', { exact: true }).fill(mailName);
  await form.getByLabel('Channel').selectOption('EMAIL');
  await form.getByLabel('Message').fill('Dear {{first_name}},\n\nThe price list: https://nile-realty.test/prices');
  await form.getByRole('button', { name: 'Create template' }).click();
  await expect(form.locator('.field-error')).toContainText('subject');
  await form.getByLabel('Subject').fill('Prices for {{first_name}}');
  await form.getByRole('button', { name: 'Create template' }).click();
  await expect(page).toHaveURL(/\/outreach\/templates\/[0-9a-f-]+$/);

  // The sequence: WhatsApp first, then email.
  await page.goto('/outreach/sequences');
  await hydrated(page);
  const seqName = unique('Viewing push');
  await page.getByTestId('sequence-form').getByLabel('Name').fill(seqName);
  await page.getByRole('button', { name: 'Create sequence' }).click();
  await expect(page).toHaveURL(/\/outreach\/sequences\/[0-9a-f-]+$/);
  await hydrated(page);
  const steps = page.getByTestId('step-form');
  await selectByText(page, 'Template', waName);
  await steps.getByRole('button', { name: 'Add step' }).click();
  await expect(page.getByTestId('step')).toHaveCount(1);
  await selectByText(page, 'Template', mailName);
  await steps.getByRole('button', { name: 'Add step' }).click();
  await expect(page.getByTestId('step')).toHaveCount(2);

  // Enrol the demo list.
  await selectByText(page, 'Lead list', 'Outreach pilot');
  await page.getByRole('button', { name: 'Enrol', exact: true }).click();
  await expect(page.getByTestId('enrol-report')).toContainText('5 enrolled');

  // The worker sends to the peer; deliver, read and reply from its dev page.
  const peer = await context.newPage();
  const mona = peer.locator('tr[data-to="+201001234567"]').filter({ hasText: 'viewing_offer' });
  await expect(async () => {
    await peer.goto(PEER);
    await expect(mona).toHaveCount(1, { timeout: 1000 });
  }).toPass({ timeout: 30_000 });
  await mona.locator('button[data-action="deliver"]').click();
  await mona.locator('button[data-action="read"]').click();
  await mona.getByLabel('Reply text').fill('Yes, Saturday works for me');
  await mona.locator('button[data-action="reply"]').click();
  await expect(mona).toContainText('reply');

  // A refusal lands in the review queue a manager has open, without a reload, with
  // why it was read that way, and is confirmed from the keyboard.
  await page.goto('/review');
  await hydrated(page);
  expect(await violations(page), '/review').toEqual([]);
  const omar = peer.locator('tr[data-to="+201112223344"]').filter({ hasText: 'viewing_offer' });
  await expect(async () => {
    await peer.goto(PEER);
    await expect(omar).toHaveCount(1, { timeout: 1000 });
  }).toPass({ timeout: 30_000 });
  // The rep who owns the leads has their inbox open; Mona's reply already rang their bell.
  const repContext = await browser.newContext();
  const rep = await repContext.newPage();
  await signIn(rep, 'sales@demo.leadline.test');
  await rep.goto('/inbox');
  await hydrated(rep);
  const bell = rep.getByTestId('bell').locator('summary');
  await expect(bell).toHaveAttribute('aria-label', /^Notifications, \d+ unread$/);
  const rung = Number((await bell.getAttribute('aria-label'))!.match(/\d+/)![0]);
  await omar.getByLabel('Reply text').fill('Not interested, thanks');
  await omar.locator('button[data-action="reply"]').click();
  // Live, not polled: the queue and the bell re-read when their tab's stream says so
  // (their fallback polls are 30 and 60 s).
  const item = page.getByTestId('review-item').filter({ hasText: 'Omar Sherif' });
  await expect(item).toBeVisible({ timeout: 5_000 });
  await expect(bell).toHaveAttribute('aria-label', `Notifications, ${rung + 1} unread`, { timeout: 5_000 });
  // The inbox offers the new reply rather than redrawing under a half-typed answer.
  await rep.getByRole('button', { name: /^Show new replies \(\d+\)$/ }).click({ timeout: 5_000 });
  const omarReply = rep.getByTestId('inbox-reply').first();
  await expect(omarReply).toContainText('Not interested, thanks');
  await expect(omarReply).toHaveAttribute('data-unread', 'true');
  await omarReply.getByRole('button', { name: 'Mark as read' }).click();
  await expect(rep.getByTestId('inbox-reply').filter({ hasText: 'Not interested, thanks' })).toHaveAttribute('data-unread', 'false');
  await repContext.close();
  await expect(item).toContainText('Confirm intent');
  await item.getByRole('button').click();
  await expect(page.getByTestId('classification')).toContainText('Not interested');
  await expect(page.getByTestId('review-thread')).toContainText('Not interested, thanks');
  await page.keyboard.press('?');
  await expect(page.getByTestId('shortcuts')).toBeVisible();
  await page.keyboard.press('c');
  await expect(item).toHaveCount(0, { timeout: 10_000 });

  // Mona's page: the journey moved, the reply and the messages are on it.
  await page.goto('/leads?q=Mona');
  await hydrated(page);
  await page.getByRole('link', { name: 'Mona Zaki' }).first().click();
  await hydrated(page);
  const card = page.getByTestId('lead-outreach');
  await expect(card).toHaveAttribute('data-state', 'WARM_REPLY', { timeout: 15_000 });
  await expect(card.getByTestId('journey-state')).toHaveText('Replied');
  await expect(card.getByTestId('lead-messages')).toContainText('Yes, Saturday works for me');
  await expect(card.getByTestId('lead-messages').locator('[data-status="READ"], [data-status="REPLIED"]').first()).toBeVisible();
  const timeline = page.getByTestId('timeline');
  await expect(timeline).toContainText('Journey: Contacted on WhatsApp → Replied');
  await expect(timeline).toContainText('Enrolled in');

  // A member takes over, then moves the journey on by hand.
  await card.getByTestId('takeover').click();
  await expect(card.getByTestId('takeover')).toHaveAttribute('aria-pressed', 'true');
  await card.getByLabel('Move journey to').selectOption('NEGOTIATION');
  await card.getByLabel('Reason').fill('Viewing booked');
  await card.getByRole('button', { name: 'Move', exact: true }).click();
  await expect(card).toHaveAttribute('data-state', 'NEGOTIATION');

  // The dashboard counts the contacts and the reply.
  await page.goto('/outreach');
  await hydrated(page);
  const funnel = page.getByTestId('funnel');
  await expect(funnel).toHaveAttribute('data-contacted', String(contactedBefore + 5));
  // Mona and Omar replied.
  await expect(funnel).toHaveAttribute('data-replied', String(repliedBefore + 2));
  // The review queue's day: Omar's item arrived and was confirmed today.
  const review = page.getByTestId('review-stats');
  await expect(review).toHaveAttribute('data-items', /^[1-9]\d*$/);
  await expect(review).toHaveAttribute('data-resolved', /^[1-9]\d*$/);
  await expect(review.locator('tfoot')).toContainText('100%');

  // The senders page shows today's quota use on the numbers.
  await page.goto('/outreach/senders');
  await hydrated(page);
  await expect(page.getByTestId('phones-table')).toContainText('/200');
});

test('a manager enrols leads picked in the leads table, and a rep may not', async ({ page, browser }) => {
  await signIn(page, 'manager@demo.leadline.test');
  await page.goto('/leads');
  await hydrated(page);
  const name = unique('Sara Nabil');
  await page.getByTestId('new-record').click();
  const form = page.getByTestId('new-record-form');
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('Phone').fill(`010${Math.floor(10_000_000 + Math.random() * 89_999_999)}`);
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(page).toHaveURL(/\/leads\/[0-9a-f-]+$/);

  await page.goto(`/leads?q=${encodeURIComponent(name)}`);
  await hydrated(page);
  await page.getByLabel(`Select ${name}`).check();
  const bar = page.getByTestId('bulk-bar');
  await bar.getByLabel('Sequence').selectOption({ label: 'New leads — WhatsApp, then email' });
  await bar.getByTestId('bulk-enrol').click();
  await expect(bar.getByTestId('bulk-enrol-report')).toHaveText('1 enrolled.');
  // Twice is refused with the reason, not an error.
  await bar.getByTestId('bulk-enrol').click();
  await expect(bar.getByTestId('bulk-enrol-report')).toContainText('1 already in a sequence');

  // Her page shows the sequence she is in.
  await page.getByRole('link', { name }).click();
  await hydrated(page);
  await expect(page.getByTestId('lead-outreach')).toContainText('New leads — WhatsApp, then email');

  // A sales rep sees no enrol control in the bulk bar.
  const rep = await (await browser.newContext()).newPage();
  await signIn(rep, 'sales@demo.leadline.test');
  await rep.goto('/leads');
  await hydrated(rep);
  await rep.getByTestId('records-table').locator('tbody input[type="checkbox"]').first().check();
  await expect(rep.getByTestId('bulk-bar')).toBeVisible();
  await expect(rep.getByTestId('bulk-enrol')).toHaveCount(0);
});
