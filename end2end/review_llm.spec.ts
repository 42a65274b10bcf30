import { test, expect } from '@playwright/test';
import { hydrated, signIn, unique, violations } from './helpers';

const PEER = process.env.PEER_URL || 'http://127.0.0.1:4900';

test('an admin connects an LLM, and an uncertain reply reaches the queue with its summary and a suggested reply', async ({ page, context }) => {
  await signIn(page, 'admin@demo.leadline.test');
  await page.goto('/settings/review');
  await hydrated(page);
  const ai = page.getByTestId('llm-settings');
  await expect(ai.getByRole('heading', { name: 'AI assistant (LLM)' })).toBeVisible();

  try {
    await ai.getByLabel('Endpoint (OpenAI-compatible)').fill(`${PEER}/llm/v1`);
    await ai.getByLabel('Model', { exact: true }).fill('gpt-4o-mini');
    await ai.getByLabel('API key').fill('sk-e2e-3b7d');
    // A timeout past 30 s is refused next to its field.
    const timeout = ai.getByLabel('Timeout (seconds)');
    await timeout.fill('31');
    await ai.getByRole('button', { name: 'Save AI settings' }).click();
    await expect(timeout).toHaveAttribute('aria-invalid', 'true');
    await expect(ai.getByText('Enter a whole number from 1 to 30.')).toBeVisible();
    await timeout.fill('5');
    await ai.getByRole('button', { name: 'Save AI settings' }).click();
    await expect(ai.getByRole('status')).toHaveText('AI settings saved.');
    expect(await violations(page), '/settings/review with the AI card').toEqual([]);

    // The key is kept, never shown again.
    await page.reload();
    await hydrated(page);
    await expect(ai.getByLabel('API key')).toHaveValue('');
    await expect(ai.getByText('A key is saved. Leave this empty to keep it.')).toBeVisible();
    await expect(ai.getByLabel('Model', { exact: true })).toHaveValue('gpt-4o-mini');

    // A new lead is emailed, and answers in a language the built-in classifier does not read.
    const name = unique('Jonas Weber');
    const email = `${name.toLowerCase().replace(/[^a-z0-9]+/g, '.')}@example.de`;
    await page.goto('/leads');
    await hydrated(page);
    await page.getByTestId('new-record').click();
    const form = page.getByTestId('new-record-form');
    await form.getByLabel('Name').fill(name);
    await form.getByLabel('Email').fill(email);
    await form.getByRole('button', { name: 'Save' }).click();
    await expect(page).toHaveURL(/\/leads\/[0-9a-f-]+$/);
    await hydrated(page);
    const lead = page.getByTestId('lead-outreach');
    await lead.getByText('Send a message').click();
    const send = lead.getByTestId('send-form');
    await send.getByLabel('Channel').selectOption('EMAIL');
    const subject = unique('Villa viewing');
    await send.getByLabel('Subject').fill(subject);
    await send.getByLabel('Message').fill('Would you like to see the villa this week?');
    await send.getByRole('button', { name: 'Send' }).click();
    await expect(lead.getByTestId('lead-messages')).toContainText(subject);

    const peer = await context.newPage();
    const row = peer.locator('tr').filter({ hasText: subject });
    await expect(async () => {
      await peer.goto(PEER);
      await expect(row).toHaveCount(1, { timeout: 1000 });
    }).toPass({ timeout: 30_000 });
    await row.getByLabel('Reply text').fill('Bitte rufen Sie mich morgen an');
    await row.locator('button[data-action="reply"]').click();
    await expect(row).toContainText('reply');

    // The queue holds it as uncertain; the model's reading is beside it.
    await page.goto('/review');
    await hydrated(page);
    const item = page.getByTestId('review-item').filter({ hasText: name });
    await expect(item).toHaveCount(1, { timeout: 15_000 });
    await item.getByRole('button').click();
    const summary = page.getByTestId('ai-summary');
    await expect(summary).toContainText('The lead wrote: Bitte rufen Sie mich morgen an', { timeout: 15_000 });
    await expect(summary).toContainText('Read by the AI model');
    const suggestion = page.getByTestId('ai-suggestion');
    await expect(suggestion).toContainText('Thanks for your message.');
    await suggestion.getByRole('button', { name: 'Use the suggested reply' }).click();
    await expect(page.getByLabel('Reply', { exact: true })).toHaveValue('Thanks for your message.');
    expect(await violations(page), '/review with an AI summary').toEqual([]);
  } finally {
    // The demo workspace goes back to the built-in classifier for the specs after this one.
    await page.goto('/settings/review');
    await hydrated(page);
    const remove = page.getByTestId('llm-settings').getByRole('button', { name: 'Remove the model' });
    if (await remove.count()) {
      await remove.click();
      await expect(remove).toHaveCount(0);
    }
  }
});
