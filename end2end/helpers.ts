import { expect, Page } from '@playwright/test';

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
