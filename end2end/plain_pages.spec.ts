import { test, expect } from '@playwright/test';
import { hydrated, unique } from './helpers';

// The pages before sign-in load no WebAssembly: server-rendered forms with one small
// script, which also work with scripts off (app/src/auth/plain.rs, DECISIONS 59).

test('the sign-in page downloads no WASM and a few kB of script', { tag: '@smoke' }, async ({ page }) => {
  const client = await page.context().newCDPSession(page);
  await client.send('Network.enable');
  const urls = new Map<string, string>();
  let scriptBytes = 0;
  client.on('Network.responseReceived', (e: any) => urls.set(e.requestId, e.response.url));
  client.on('Network.loadingFinished', (e: any) => {
    const url = urls.get(e.requestId) || '';
    if (/\.(wasm|js)(\?|$)/.test(url)) scriptBytes += e.encodedDataLength;
  });
  const wasm: string[] = [];
  page.on('request', (req) => {
    if (req.url().endsWith('.wasm')) wasm.push(req.url());
  });
  await page.goto('/login');
  await hydrated(page);
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  expect(wasm).toEqual([]);
  expect(scriptBytes).toBeGreaterThan(0);
  expect(scriptBytes, 'bytes of script on the wire').toBeLessThan(10_000);
});

test('with scripts off: sign up, a refused sign-in, then sign in to the page asked for', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const email = `${unique('noscript')}@example.com`;

  await page.goto('/signup');
  await page.getByLabel('Your name').fill('Salma Adel');
  await page.getByLabel('Company').fill('Aswan Estates');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Create a workspace' }).click();
  await expect(page.locator('.field-error')).toContainText('at least 10');
  await page.getByLabel('Your name').fill('Salma Adel');
  await page.getByLabel('Company').fill('Aswan Estates');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('a long enough password');
  await page.getByRole('button', { name: 'Create a workspace' }).click();
  await expect(page.getByTestId('check-email')).toBeVisible();

  await page.goto('/login?next=/settings');
  await page.getByLabel('Email').fill(email);
  await page.locator('#f-password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('wrong');
  await expect(page).toHaveURL(/\/login\?next=/);
  await page.getByLabel('Email').fill(email);
  await page.locator('#f-password').fill('a long enough password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/settings$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Profile');
  await context.close();
});

test('a sign-in that cannot reach the server says so and keeps what was typed', async ({ page }) => {
  await page.goto('/login');
  await hydrated(page);
  await page.route(/\/api\/login/, (route) => route.abort('failed'));
  await page.getByLabel('Email').fill('someone@example.com');
  await page.locator('#f-password').fill('a password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('could not be reached');
  await expect(page.getByLabel('Email')).toHaveValue('someone@example.com');
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeEnabled();
});
