import { expect, Page } from '@playwright/test';
import { readFileSync } from 'fs';

export const DEMO_PASSWORD = 'leadline-demo';

/** Waits until the WASM bundle has hydrated the page. */
export async function hydrated(page: Page) {
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 30_000 });
}

export async function signIn(page: Page, email: string, password = DEMO_PASSWORD) {
  await page.goto('/login');
  await hydrated(page);
  await page.getByLabel('Email').fill(email);
  await page.locator('#f-password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/$/);
  await hydrated(page);
}

export function unique(prefix: string) {
  return `${prefix}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
}

const PEER = process.env.PEER_URL || 'http://127.0.0.1:4900';

/** The first link containing `path` in the newest email the local peer received for `to`. */
export async function linkInMail(page: Page, to: string, path: string): Promise<string> {
  let link: string | undefined;
  await expect
    .poll(async () => {
      const messages: { to: string; body: string }[] = await (await page.request.get(`${PEER}/_peer/messages`)).json();
      const mail = messages.filter((m) => m.to === to).pop();
      link = mail?.body.match(new RegExp(`https?://\\S*${path}[0-9a-f]+`))?.[0];
      return link;
    }, { timeout: 15_000 })
    .toBeTruthy();
  return link!;
}

const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Serious and critical axe-core violations on the current page. axe is evaluated
 * through the DevTools protocol, as a console would: the page's CSP (no inline
 * script without its nonce) rightly refuses an injected <script> tag.
 */
export async function violations(page: Page) {
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => (window as any).axe.run(document, { resultTypes: ['violations'] }));
  return result.violations
    .filter((v: any) => v.impact === 'serious' || v.impact === 'critical')
    .map((v: any) => `${v.id}: ${v.help} (${v.nodes.map((n: any) => n.target.join(' ')).slice(0, 3).join(', ')})`);
}

/** Sets the signed-in member's language in Settings ('' for the workspace's) and waits for the reload. */
export async function setLanguage(page: Page, code: string) {
  await page.goto('/settings');
  await hydrated(page);
  await page.locator('#f-language').selectOption(code);
  const saved = page.waitForResponse((r) => r.request().method() === 'POST' && r.status() < 400);
  await page.locator('form:has(#f-language) button[type="submit"]').click();
  await saved;
  // The page reloads itself in the new language; go on once it has.
  await expect(async () => {
    await page.goto('/settings');
    await expect(page.locator('html')).toHaveAttribute('lang', code === 'pt' ? 'pt-BR' : code || 'en', { timeout: 1000 });
  }).toPass({ timeout: 15_000 });
  await hydrated(page);
}

/** A new workspace of its own, so the demo members' language and zone stay as they are. */
export async function newWorkspace(page: Page, name: string): Promise<string> {
  const email = `${unique(name.toLowerCase())}@example.com`;
  await page.goto('/signup');
  await hydrated(page);
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Company').fill(`${name} Homes`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('a long enough password');
  await page.getByRole('button', { name: 'Create a workspace' }).click();
  await expect(page.getByTestId('check-email')).toBeVisible();
  await page.goto(await linkInMail(page, email, '/verify/'));
  await hydrated(page);
  await page.getByRole('button', { name: 'Confirm my address' }).click();
  await expect(page.getByTestId('email-confirmed')).toBeVisible();
  await signIn(page, email, 'a long enough password');
  return email;
}
