import { test, expect, Page } from '@playwright/test';
import { createHmac } from 'crypto';
import { DEMO_PASSWORD, hydrated, violations } from './helpers';

// The demo's staff member and their published 2FA secret (src/seed/mod.rs).
const STAFF = 'staff@demo.leadline.test';
const SECRET = 'JBSWY3DPEHPK3PXPLEADLINEDEMO2345';

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s) for a base32 secret, as an authenticator app computes it. */
function totp(secret: string, at = Date.now()): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30_000)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const n = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return n.toString().padStart(6, '0');
}

async function signInAsStaff(page: Page) {
  await page.goto('/login');
  await hydrated(page);
  await page.getByLabel('Email').fill(STAFF);
  await page.locator('#f-password').fill(DEMO_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/login\/2fa/);
  await hydrated(page);
  // A code is good once: on a retry within the same 30 s, wait for the next one.
  await page.getByLabel('Code').fill(totp(SECRET));
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page).toHaveURL(/\/$/);
  await hydrated(page);
}

test('staff sign in with 2FA, see every workspace with its plan and MRR, and change a flag rollout', async ({ page }) => {
  await signInAsStaff(page);
  await page.getByRole('link', { name: 'Staff console' }).click();
  await expect(page.getByRole('heading', { name: 'Staff console' })).toBeVisible();
  await hydrated(page);
  await expect(page.getByTestId('staff-figures')).toContainText('Active workspaces');
  // The same figures over time: the seed kept today's, as the worker does each hour.
  const trends = page.getByTestId('staff-trends');
  await expect(trends.getByRole('img', { name: /^Active workspaces: \d+ on .+, \d+ on .+$/ })).toBeVisible();
  await expect(trends.getByRole('img', { name: /^Paying: / })).toBeVisible();
  const nile = page.getByTestId('staff-tenants').getByRole('row', { name: /Nile Realty/ });
  await expect(nile).toContainText('Pro');
  await expect(nile).toContainText('Trial');
  await expect(page.getByTestId('staff-tenants').getByRole('row', { name: /Leadline HQ/ })).toContainText('Free');
  expect(await violations(page), '/staff').toEqual([]);
  await page.setViewportSize({ width: 390, height: 844 });
  expect(await violations(page), '/staff at 390 px').toEqual([]);
  await page.setViewportSize({ width: 1280, height: 800 });

  // The plan catalogue: limits, features and prices per plan; bad input is refused at
  // its field and nothing changes.
  await page.getByRole('link', { name: 'Plans' }).click();
  await hydrated(page);
  const free = page.locator('[data-testid="plan-editor"][data-plan="free"]');
  await expect(free.getByLabel('Monthly, EGP')).toHaveValue('0');
  await free.getByLabel('Seats').fill('0');
  await free.getByRole('button', { name: 'Save Free' }).click();
  await expect(free.getByRole('alert')).toContainText('A whole number from 1');
  await expect(free.getByLabel('Seats')).toHaveAttribute('aria-describedby', 'plan-free-seats-error');
  expect(await violations(page), '/staff/plans').toEqual([]);

  // Advanced analytics, which no screen gates yet, so the change touches no other test.
  await page.getByRole('link', { name: 'Feature flags' }).click();
  await hydrated(page);
  const analytics = page.locator('[data-testid="flag"][data-key="analytics"]');
  await expect(analytics).toContainText('On for 100% of workspaces');
  const rollout = page.getByLabel('Rollout of analytics (%)');
  await rollout.fill('25');
  await page.getByLabel('Why change analytics (optional)').fill('staged rollout');
  await page.getByRole('button', { name: 'Save analytics' }).click();
  await expect(analytics).toContainText('On for 25% of workspaces');
  expect(await violations(page), '/staff/flags').toEqual([]);

  // Platform settings: what staff may change, and how the server runs, secrets masked.
  await page.getByRole('link', { name: 'Platform settings' }).click();
  await hydrated(page);
  await expect(page.getByLabel('Value of billing.trial_days')).toHaveValue('14');
  await expect(page.getByTestId('running-config').getByRole('row', { name: /Stripe secret key/ })).toContainText('sk_test_••••••••');
  expect(await violations(page), '/staff/config').toEqual([]);

  // The sending IP pool: each address with its state, warm-up and domains. A private
  // address is refused at its field; a new address warms up and takes Nile Realty's
  // domain off the one it sent from.
  await page.getByRole('link', { name: 'Sending IPs' }).click();
  await hydrated(page);
  const warmed = page.locator('[data-testid="sending-ip"][data-address="5.9.0.10"]');
  await expect(warmed).toContainText('Warmed up');
  await expect(warmed.getByTestId('ip-domains')).toContainText('nile-realty.test');
  await expect(page.locator('[data-testid="sending-ip"][data-address="5.9.0.11"]').getByTestId('warmup'))
    .toHaveText('Warm-up day 4 of 30: up to 100 emails today');
  await expect(page.locator('[data-testid="sending-ip"][data-address="5.9.0.12"]')).toContainText('Degraded');
  await page.getByLabel('IP address').fill('10.0.0.8');
  await page.getByRole('button', { name: 'Add address' }).click();
  await expect(page.locator('#ip-address-error')).toContainText('private or reserved');
  await expect(page.getByLabel('IP address')).toHaveAttribute('aria-describedby', /ip-address-error/);
  await page.getByLabel('IP address').fill('5.9.0.20');
  await page.getByRole('button', { name: 'Add address' }).click();
  const fresh = page.locator('[data-testid="sending-ip"][data-address="5.9.0.20"]');
  await expect(fresh).toContainText('Available');
  await fresh.getByLabel('State of 5.9.0.20').selectOption('warming');
  await fresh.getByRole('button', { name: 'Save state of 5.9.0.20' }).click();
  await expect(fresh.getByTestId('warmup')).toHaveText('Warm-up day 1 of 30: up to 50 emails today');
  await fresh.getByLabel('Workspace address').fill('nile-realty');
  await fresh.getByLabel('Sending domain').fill('nile-realty.test');
  await fresh.getByRole('button', { name: 'Send from 5.9.0.20' }).click();
  await expect(fresh.getByTestId('ip-domains')).toContainText('nile-realty.test');
  await expect(warmed).toContainText('No workspace domain sends from this address.');
  expect(await violations(page), '/staff/ips').toEqual([]);

  // The staff log has it, with the reason; then the rollout goes back.
  await page.getByRole('link', { name: 'Staff log' }).click();
  await hydrated(page);
  const entry = page.getByTestId('staff-audit').getByRole('row', { name: /flag\.changed/ }).first();
  await expect(entry).toContainText('staged rollout');
  await expect(entry).toContainText('Sara Mansour');
  await page.getByRole('link', { name: 'Feature flags' }).click();
  await hydrated(page);
  await page.getByLabel('Rollout of analytics (%)').fill('100');
  await page.getByRole('button', { name: 'Save analytics' }).click();
  await expect(page.locator('[data-testid="flag"][data-key="analytics"]')).toContainText('On for 100% of workspaces');

  // Support access: Nile Realty read-only, with a reason its owner reads.
  await page.getByRole('link', { name: 'Overview' }).click();
  await hydrated(page);
  const row = page.getByTestId('staff-tenants').getByRole('row', { name: /Nile Realty/ });
  await row.getByText('Open read-only…').click();
  await row.getByLabel('Why open Nile Realty').fill('e2e: checking the pipeline for a ticket');
  await row.getByRole('button', { name: 'Open Nile Realty read-only' }).click();
  await expect(page.getByTestId('support-banner')).toContainText('viewing Nile Realty read-only');
  await hydrated(page);
  await page.goto('/pipeline');
  await hydrated(page);
  await expect(page.getByTestId('support-banner')).toBeVisible();
  await expect(page.getByText('Nile Towers — 40 units').first()).toBeVisible();
  expect(await violations(page), 'support banner').toEqual([]);
  await page.getByRole('button', { name: 'End support access' }).click();
  await expect(page).toHaveURL(/\/staff$/);
  await expect(page.getByTestId('support-banner')).toHaveCount(0);
});

test('a workspace owner finds no console', async ({ page }) => {
  await page.goto('/login');
  await hydrated(page);
  await page.getByLabel('Email').fill('owner@demo.leadline.test');
  await page.locator('#f-password').fill(DEMO_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/$/);
  await hydrated(page);
  await expect(page.getByRole('link', { name: 'Staff console' })).toHaveCount(0);
  await page.goto('/staff');
  await hydrated(page);
  await expect(page.getByRole('alert')).toContainText("for Leadline's platform staff");
  // The support access of the test before is in the workspace's audit log, with why.
  await page.goto('/settings/audit');
  await hydrated(page);
  await expect(page.getByTestId('audit-table')).toContainText('staff.support_opened');
  await expect(page.getByTestId('audit-table')).toContainText('checking the pipeline for a ticket');
});
