import { test, expect } from '@playwright/test';
import { createHmac } from 'crypto';
import { hydrated, signIn, unique, violations } from './helpers';

const PEER = process.env.PEER_URL || 'http://127.0.0.1:4900';
// The demo workspace's API key, as public as its password.
const DEMO_KEY = 'llk_00000000000de0de_bGVhZGxpbmUtZGVtby1hcGkta2V5LW5vdC1zZWNyZXQ';

test('an admin makes an API key, calls the API with it and sees it used', { tag: '@smoke' }, async ({ page, request }) => {
  await signIn(page, 'owner@demo.leadline.test');
  await page.goto('/settings/developers');
  await hydrated(page);
  expect(await violations(page), '/settings/developers').toEqual([]);
  const name = unique('Zapier');
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Contacts: read and write').check();
  await page.getByRole('button', { name: 'Create key' }).click();
  const token = await page.getByTestId('new-token').inputValue();
  expect(token).toMatch(/^llk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);

  const res = await request.get('/api/v1/contacts?limit=5', { headers: { Authorization: `Bearer ${token}` } });
  expect(res.status()).toBe(200);
  expect((await res.json()).data.length).toBeGreaterThan(0);
  // Without the key, or with leads it was not given: refused in the API's shape.
  expect((await request.get('/api/v1/contacts')).status()).toBe(401);
  const leads = await request.get('/api/v1/leads', { headers: { Authorization: `Bearer ${token}` } });
  expect(leads.status()).toBe(403);

  await page.reload();
  await hydrated(page);
  const row = page.getByTestId('api-key-row').filter({ hasText: name });
  await expect(row.getByTestId('last-used')).toContainText('127.0.0.1');
  await row.getByRole('button', { name: `Revoke ${name}` }).click();
  await expect(row.getByText('Revoked')).toBeVisible();
  const after = await request.get('/api/v1/contacts', { headers: { Authorization: `Bearer ${token}` } });
  expect(after.status()).toBe(401);
});

test('an admin subscribes the peer to contact events and sends a failed delivery again', async ({ page, request }) => {
  await signIn(page, 'owner@demo.leadline.test');
  await page.goto('/settings/developers');
  await hydrated(page);
  await page.getByLabel('Name', { exact: true }).fill(unique('Hooks'));
  await page.getByLabel('Contacts: read and write').check();
  await page.getByRole('button', { name: 'Create key' }).click();
  const token = await page.getByTestId('new-token').inputValue();

  const hook = unique('crm');
  await page.getByLabel('Endpoint URL').fill(`${PEER}/_peer/hooks/${hook}`);
  await page.getByLabel('contact.created').check();
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  await expect(page.getByTestId('new-webhook-secret')).toHaveValue(/^whsec_/);

  // The receiver fails twice: the first attempt and the retry five seconds later.
  await request.post(`${PEER}/_peer/hook-answers`, { data: { statuses: [500, 500] } });
  const created = await request.post('/api/v1/contacts', {
    headers: { Authorization: `Bearer ${token}` },
    data: { name: unique('Hook Person') },
  });
  expect(created.status()).toBe(201);

  await page.getByRole('link', { name: `${PEER}/_peer/hooks/${hook}` }).click();
  await hydrated(page);
  const delivery = page.getByTestId('delivery').first();
  await expect(delivery).toContainText('contact.created');
  await expect(delivery).toContainText('2 attempts', { timeout: 20_000 });
  await expect(delivery).toHaveAttribute('data-status', 'PENDING');
  expect(await violations(page), 'webhook page').toEqual([]);

  await delivery.getByRole('button', { name: 'Send again: contact.created' }).click();
  await expect(delivery).toHaveAttribute('data-status', 'SUCCEEDED', { timeout: 10_000 });
  await expect(delivery).toContainText('3 attempts');
  const received = await (await request.get(`${PEER}/_peer/hooks`)).json();
  const mine = received.filter((r: { name: string }) => r.name === hook);
  expect(mine.length).toBe(3);
  expect(new Set(mine.map((r: { webhook_id: string }) => r.webhook_id)).size).toBe(1);
});

test('the API reference in the app lists every resource with its parameters and answers', async ({ page }) => {
  await signIn(page, 'owner@demo.leadline.test');
  await page.goto('/settings/developers');
  await hydrated(page);
  await page.getByRole('link', { name: 'API reference' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'API reference' })).toBeVisible();
  await hydrated(page);
  const contents = page.getByRole('navigation', { name: 'Resources' });
  for (const resource of ['contacts', 'activities', 'lists', 'messages', 'sequences', 'unit holds']) {
    await expect(contents.getByRole('link', { name: resource, exact: true })).toBeVisible();
  }
  await contents.getByRole('link', { name: 'activities', exact: true }).click();
  const create = page.getByRole('region', { name: 'POST /api/v1/activities' });
  await expect(create).toBeVisible();
  await expect(create.getByRole('table', { name: 'JSON body' })).toContainText('lead_id');
  await expect(create).toContainText('422');
  expect(await violations(page), '/settings/developers/api').toEqual([]);
});

test('a Facebook Page connected in Developers turns a Lead Ads notification into a lead', async ({ page, request }) => {
  await signIn(page, 'owner@demo.leadline.test');
  await page.goto('/settings/developers');
  await hydrated(page);
  const form = page.getByRole('form', { name: 'New Facebook Lead Ads connection' });
  const name = unique('Spring ads');
  const pageId = String(Date.now());
  await form.getByLabel('Connection name').fill(name);
  await form.getByLabel('Page ID').fill(pageId);
  await form.getByLabel('Meta app secret').fill('e2e-app-secret');
  await form.getByLabel('Page access token').fill('e2e-page-token');
  await form.getByRole('button', { name: 'Connect Page' }).click();
  const shown = page.getByTestId('new-facebook-source');
  const callback = new URL(await shown.locator('code').nth(0).innerText());
  const verify = await shown.locator('code').nth(1).innerText();

  // Meta's subscription handshake, then a signed leadgen notification.
  const handshake = await request.get(`${callback.pathname}?hub.mode=subscribe&hub.verify_token=${encodeURIComponent(verify)}&hub.challenge=8675309`);
  expect(await handshake.text()).toBe('8675309');
  const leadgen = `${Date.now()}`;
  const email = `salma.${leadgen}@example.com`;
  await request.post(`${PEER}/_peer/facebook/leads`, {
    data: {
      id: leadgen, access_token: 'e2e-page-token', campaign_name: 'Spring launch',
      field_data: [{ name: 'full_name', values: ['Salma Adel'] }, { name: 'email', values: [email] }],
    },
  });
  const body = JSON.stringify({
    object: 'page',
    entry: [{ id: pageId, time: Math.floor(Date.now() / 1000), changes: [{ field: 'leadgen', value: { leadgen_id: leadgen, page_id: pageId, form_id: '42', created_time: Math.floor(Date.now() / 1000) } }] }],
  });
  const signature = 'sha256=' + createHmac('sha256', 'e2e-app-secret').update(body).digest('hex');
  const forged = await request.post(callback.pathname, { data: body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': 'sha256=' + '0'.repeat(64) } });
  expect(forged.status()).toBe(403);
  const notified = await request.post(callback.pathname, { data: body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature } });
  expect(notified.status()).toBe(200);

  // The worker reads the lead from the Graph API: it arrives with its source and campaign.
  await expect(async () => {
    const res = await request.get('/api/v1/leads?limit=20', { headers: { Authorization: `Bearer ${DEMO_KEY}` } });
    const lead = (await res.json()).data.find((l: { email: string }) => l.email === email);
    expect(lead?.name).toBe('Salma Adel');
    expect(lead?.source).toBe(name);
  }).toPass({ timeout: 30_000 });
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('facebook-source-row').filter({ hasText: name }).getByTestId('source-activity')).toContainText('1 ·');
});
