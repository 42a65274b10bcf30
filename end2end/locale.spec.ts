import { test, expect, Page } from '@playwright/test';
import { readFileSync } from 'fs';
import { hydrated, newWorkspace, unique, violations } from './helpers';

/** A locale's strings, as the app ships them. */
function strings(lang: string): Record<string, string> {
  const dir = `${__dirname}/../app/locales`;
  const main = lang === 'en' ? 'en' : lang;
  return Object.assign(
    {},
    JSON.parse(readFileSync(`${dir}/${main}.json`, 'utf8')),
    JSON.parse(readFileSync(`${dir}/crm.${lang}.json`, 'utf8')),
  );
}

/** Language and zone in Settings → Profile; the page reloads in the new language. */
async function setProfile(page: Page, language: string, zone: string) {
  await page.goto('/settings');
  await hydrated(page);
  await page.locator('#f-language').selectOption(language);
  await page.locator('#f-timezone').fill(zone);
  const saved = page.waitForResponse((r) => r.request().method() === 'POST' && r.status() < 400);
  await page.locator('form:has(#f-language) button[type="submit"]').click();
  await saved;
  const tag = language === 'pt' ? 'pt-BR' : language;
  await expect(async () => {
    await page.goto('/settings');
    await expect(page.locator('html')).toHaveAttribute('lang', tag, { timeout: 1000 });
  }).toPass({ timeout: 15_000 });
  await hydrated(page);
}

/** The wall-clock date in `zone`, `days` from now, as YYYY-MM-DD. */
function dayIn(zone: string, days: number): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: zone }).format(new Date(Date.now() + days * 86_400_000));
}

/** The instant that is `hour`:00 on `day` (YYYY-MM-DD) in `zone`. */
function instant(day: string, hour: number, zone: string): Date {
  const [y, m, d] = day.split('-').map(Number);
  for (let offset = -14; offset <= 14; offset++) {
    const at = new Date(Date.UTC(y, m - 1, d, hour - offset));
    const parts = new Intl.DateTimeFormat('en-CA', { timeZone: zone, hour: 'numeric', hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(at);
    const get = (t: string) => parts.find((p) => p.type === t)!.value;
    if (`${get('year')}-${get('month')}-${get('day')}` === day && Number(get('hour')) === hour) return at;
  }
  throw new Error(`no ${hour}:00 on ${day} in ${zone}`);
}

/** Adds a task due at 09:00 tomorrow (the member's wall clock) to a new lead, in the page's language. */
async function taskForTomorrow(page: Page, lang: string, zone: string, subject: string) {
  const t = strings(lang);
  await page.goto('/leads');
  await hydrated(page);
  await page.getByTestId('new-record').click();
  const form = page.getByTestId('new-record-form');
  await form.locator('#f-name').fill(unique('Lead'));
  await form.locator('button[type="submit"]').click();
  await expect(page).toHaveURL(/\/leads\/[0-9a-f-]+$/);
  await hydrated(page);
  const composer = page.getByTestId('composer');
  await composer.getByText(t['timeline.kind.TASK'], { exact: true }).click();
  await composer.getByLabel(t['timeline.subject']).fill(subject);
  await composer.getByLabel(t['timeline.due']).fill(`${dayIn(zone, 1)}T09:00`);
  await composer.getByRole('button', { name: t['timeline.add'] }).click();
  await expect(page.getByTestId('timeline').getByTestId('timeline-item').first()).toContainText(subject);
}

for (const [lang, zone, shown] of [
  // 09:00 in Cairo, in Arabic: "9:00 ص"; in Bucharest, in Romanian: "09:00".
  ['ar', 'Africa/Cairo', '9:00 ص'],
  ['ro', 'Europe/Bucharest', '09:00'],
] as const) {
  test(`in ${lang}, a task for 09:00 tomorrow in ${zone} is in Today on that day`, async ({ page }) => {
    await newWorkspace(page, lang === 'ar' ? 'Mona' : 'Ioana');
    await setProfile(page, lang, zone);
    const subject = unique('Second viewing');
    await taskForTomorrow(page, lang, zone, subject);

    await page.goto('/tasks');
    await hydrated(page);
    await expect(page.getByTestId('tasks.upcoming')).toContainText(subject);
    await expect(page.getByTestId('tasks.upcoming')).toContainText(shown);

    // The next morning at 08:00 on the member's clock, it is due today.
    await page.clock.setFixedTime(instant(dayIn(zone, 1), 8, zone));
    await page.goto('/tasks');
    await hydrated(page);
    await expect(page.getByTestId('tasks.today')).toContainText(subject);
    await expect(page.getByTestId('task').filter({ hasText: subject })).toHaveCount(1);
    // At 10:00 it is overdue.
    await page.clock.setFixedTime(instant(dayIn(zone, 1), 10, zone));
    await page.goto('/tasks');
    await hydrated(page);
    await expect(page.getByTestId('tasks.overdue')).toContainText(subject);
  });
}

test('Portuguese and Romanian write money and dates their own way, and the picker offers four languages', async ({ page }) => {
  await newWorkspace(page, 'Beatriz');
  await page.goto('/settings');
  await hydrated(page);
  await expect(page.locator('#f-language option')).toHaveText(['', 'English', 'العربية', 'Português (Brasil)', 'Română'].map((s, i) => (i === 0 ? /.+/ : s)));

  await setProfile(page, 'pt', 'America/Sao_Paulo');
  const pt = strings('pt');
  await expect(page.getByRole('link', { name: pt['nav.settings'] }).first()).toBeVisible();
  // A deal of 1.234.567,89 typed the Brazilian way, read and written back the same way.
  await page.goto('/pipeline');
  await hydrated(page);
  await page.getByTestId('new-deal').click();
  const form = page.getByTestId('new-deal-form');
  const name = unique('Cobertura');
  await form.locator('#f-name').fill(name);
  await form.locator('#f-amount').fill('1.234.567,89');
  await form.locator('#f-currency').fill('BRL');
  await form.locator('button[type="submit"]').click();
  const card = page.locator(`[data-testid="deal-card"][data-name="${name}"]`);
  await expect(card.getByTestId('card-amount')).toHaveText('BRL 1.234.567,89');
  const subject = unique('Visita');
  await taskForTomorrow(page, 'pt', 'America/Sao_Paulo', subject);
  await page.goto('/tasks');
  await hydrated(page);
  const months = ['jan.', 'fev.', 'mar.', 'abr.', 'mai.', 'jun.', 'jul.', 'ago.', 'set.', 'out.', 'nov.', 'dez.'];
  const [y, m, d] = dayIn('America/Sao_Paulo', 1).split('-').map(Number);
  await expect(page.getByTestId('tasks.upcoming')).toContainText(`${d} de ${months[m - 1]} de ${y} 09:00`);

  await setProfile(page, 'ro', 'Europe/Bucharest');
  await page.goto('/pipeline');
  await hydrated(page);
  await expect(card.getByTestId('card-amount')).toHaveText('1.234.567,89 BRL');
  await page.goto('/tasks');
  await hydrated(page);
  const ro = ['ian.', 'feb.', 'mar.', 'apr.', 'mai', 'iun.', 'iul.', 'aug.', 'sept.', 'oct.', 'nov.', 'dec.'];
  // 09:00 in São Paulo is 14:00 or 15:00 in Bucharest: the same instant, read in the new zone.
  await expect(page.getByTestId('task').filter({ hasText: subject })).toContainText(new RegExp(`${d} ${ro[m - 1].replace('.', '\\.')} ${y}, 1[45]:00`));
  // Date pickers start the week on Monday in Romanian; Escape gives the focus back.
  const pick = page.getByRole('button', { name: 'Alegeți data' }).first();
  await pick.click();
  await expect(page.getByRole('grid').locator('th').first()).toHaveText('L');
  await page.keyboard.press('Escape');
  await expect(page.getByRole('grid')).toHaveCount(0);
  await expect(pick).toBeFocused();
});

test('an Arabic workspace can write Arabic-Indic digits, and its date picker starts the week on Saturday', async ({ page }) => {
  await newWorkspace(page, 'Layla');
  await page.goto('/settings/workspace');
  await hydrated(page);
  await page.locator('#f-locale').selectOption('ar');
  await page.locator('#f-number_system').selectOption('arab');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.locator('html')).toHaveAttribute('dir', 'rtl');
  await page.goto('/settings/audit');
  await hydrated(page);
  const arabic = (text: string) => text.replace(/\d/g, (c) => String.fromCharCode(0x660 + Number(c)));
  await expect(page.locator('table')).toContainText(arabic(String(new Date().getUTCFullYear())));

  await page.getByRole('button', { name: 'اختيار تاريخ' }).first().click();
  const grid = page.getByRole('grid');
  await expect(grid.locator('th').first()).toHaveText('س');
  expect(await violations(page), 'the open date picker').toEqual([]);
  // The focus starts on today; a week on, then Enter writes the day into the filter.
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await expect(grid).toHaveCount(0);
  const week = new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10);
  const picked = await page.locator('#a-from').inputValue();
  expect(Math.abs(Date.parse(picked) - Date.parse(week))).toBeLessThanOrEqual(86_400_000);
});
