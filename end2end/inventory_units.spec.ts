import { test, expect } from '@playwright/test';
import { hydrated, signIn, unique, violations } from './helpers';

test('an admin imports a price list: a bad row is named by line, the fixed file is applied', async ({ page }) => {
  await signIn(page, 'admin@demo.leadline.test');
  await page.goto('/inventory/setup');
  await hydrated(page);
  // A project of its own, so the demo's projects keep their counts.
  const project = unique('Garden Heights');
  const form = page.getByTestId('project-form');
  await form.getByLabel('Project name').fill(project);
  await form.getByRole('button', { name: 'Save project' }).click();
  await expect(page.getByTestId('setup-status')).toContainText('saved');

  // Its cover picture, shown beside it in the list.
  await page.getByRole('button', { name: `Edit ${project}` }).click();
  const cover = page.getByTestId('cover-upload');
  await cover.getByLabel(`Cover picture of ${project}`).setInputFiles({
    name: 'cover.png', mimeType: 'image/png',
    buffer: Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==', 'base64'),
  });
  await cover.getByRole('button', { name: 'Upload cover' }).click();
  await expect(page.getByTestId('setup-status')).toContainText('Cover saved.');
  await expect(page.getByTestId('projects-table').getByRole('img', { name: `Cover of ${project}` })).toBeVisible();

  const upload = page.getByTestId('unit-import');
  await upload.getByLabel('Project').selectOption({ label: project });
  const file = (body: string) => ({ name: 'price-list.csv', mimeType: 'text/csv', buffer: Buffer.from(body) });
  await upload.getByLabel('Spreadsheet').setInputFiles(file(
    'Unit No.,Type,Floor,Area (m²),Beds,Price\nG-101,APT_2BR,1,118,2,"4,350,000"\nG-102,APT_2BR,1,120,2,lots\n'));
  await upload.getByRole('button', { name: 'Check file' }).click();
  const preview = page.getByTestId('import-preview');
  await expect(preview.getByTestId('import-errors')).toContainText('Line 3: Price "lots" is not valid.');
  await expect(preview.getByRole('button', { name: 'Import the file' })).toHaveCount(0);

  await upload.getByLabel('Spreadsheet').setInputFiles(file(
    'Unit No.,Type,Floor,Area (m²),Beds,Price\nG-101,APT_2BR,1,118,2,"4,350,000"\nG-102,APT_2BR,1,120,2,"4,420,000"\n'));
  await upload.getByRole('button', { name: 'Check file' }).click();
  await expect(preview.getByTestId('import-create')).toHaveText('2');
  await expect(preview.getByTestId('import-update')).toHaveText('0');
  expect(await violations(page), 'import preview').toEqual([]);
  await preview.getByRole('button', { name: 'Import the file' }).click();
  await expect(page.getByTestId('setup-status')).toContainText('Imported. New units: 2; updated: 0.');

  // The units are in the table with their prices.
  await page.goto('/inventory');
  await hydrated(page);
  await page.getByLabel('Project', { exact: true }).selectOption({ label: project });
  await expect(page.getByRole('link', { name: 'G-102' })).toBeVisible();
  await expect(page.getByText('EGP 4,420,000')).toBeVisible();
});

test('an admin records a unit\'s terrace and its area is worked out', async ({ page }) => {
  await signIn(page, 'admin@demo.leadline.test');
  await page.goto('/inventory');
  await hydrated(page);
  await page.getByRole('link', { name: 'B-1211' }).click();
  await hydrated(page);
  const table = page.getByTestId('unit-components');
  // The demo's two-bedroom flat: two bedrooms, a bathroom, a kitchen and a balcony.
  await expect(table.getByRole('row')).toHaveCount(1 + 5 + 1);
  const form = page.getByTestId('component-form');
  await form.getByLabel('Component type').selectOption({ label: 'Balcony' });
  await form.getByLabel('Component name').fill('Terrace');
  await form.getByLabel('Length (m)').fill('6');
  await form.getByLabel('Width (m)').fill('two');
  await form.getByRole('button', { name: 'Add component' }).click();
  await expect(form.getByText('Enter metres between 0.01 and 999')).toBeVisible();
  await form.getByLabel('Width (m)').fill('2,5');
  await form.getByRole('button', { name: 'Add component' }).click();
  const terrace = table.getByRole('row', { name: /Terrace/ });
  await expect(terrace).toContainText('6.00 × 2.50 m');
  await expect(terrace).toContainText('15.00 m²');
  expect(await violations(page), 'unit components').toEqual([]);
  await terrace.getByRole('button', { name: 'Delete — Terrace' }).click();
  await expect(table.getByRole('row', { name: /Terrace/ })).toHaveCount(0);
});

test('the owner lets a manager edit plans, and takes it back', async ({ page }) => {
  await signIn(page, 'owner@demo.leadline.test');
  await page.goto('/settings/team');
  await hydrated(page);
  const row = page.getByRole('row', { name: /Layla Nasser/ });
  await row.getByRole('button', { name: 'Allow plan editing — Layla Nasser' }).click();
  await expect(row.getByText('Edits plans')).toBeVisible();
  // An admin edits plans by role: no switch on their row.
  await expect(page.getByRole('row', { name: /Omar Farouk/ }).getByText('By role')).toBeVisible();
  expect(await violations(page), 'team with grants').toEqual([]);
  await row.getByRole('button', { name: 'Stop plan editing — Layla Nasser' }).click();
  await expect(row.getByText('Edits plans')).toHaveCount(0);
});

test('an admin links a drawn shape to one room of its unit, then back to the whole unit', async ({ page }) => {
  await signIn(page, 'admin@demo.leadline.test');
  await page.goto('/inventory');
  await hydrated(page);
  await page.getByRole('link', { name: /Nile Towers — Floor 12/ }).click();
  await hydrated(page);
  const planUrl = page.url();
  await page.goto(`${planUrl}?edit=1`);
  await hydrated(page);
  const panel = page.getByTestId('shape-panel');
  const pick = async (name: string) => {
    await page.getByTestId('plan-editor').getByRole('button', { name, exact: true }).focus();
    await page.keyboard.press('Enter');
  };
  await pick('Shape B-1211');
  const component = panel.getByLabel('Linked component');
  await expect(component.locator('option', { hasText: 'Bedroom 1' })).toHaveCount(1);
  await component.selectOption({ label: 'Bedroom 1' });
  await panel.getByRole('button', { name: 'Save shape' }).click();
  await expect(page.getByTestId('editor-status')).toContainText('Shape saved.');

  await page.goto(planUrl);
  await hydrated(page);
  await expect(page.getByTestId('plan-map').getByRole('button', { name: /^Bedroom 1 of Unit B-1211, / })).toBeVisible();
  // The list still names the unit once.
  await expect(page.getByTestId('plan-list').getByRole('listitem')).toHaveCount(40);

  await page.goto(`${planUrl}?edit=1`);
  await hydrated(page);
  await pick('Shape B-1211 · Bedroom 1');
  await panel.getByLabel('Linked component').selectOption({ label: 'The whole unit' });
  await panel.getByRole('button', { name: 'Save shape' }).click();
  await expect(page.getByTestId('editor-status')).toContainText('Shape saved.');
});

test('the plan editor zooms with a two-finger pinch and pans with two fingers', async ({ page }) => {
  await signIn(page, 'admin@demo.leadline.test');
  await page.goto('/inventory');
  await hydrated(page);
  await page.getByRole('link', { name: /Nile Towers — Floor 12/ }).click();
  await hydrated(page);
  await page.goto(`${page.url()}?edit=1`);
  await hydrated(page);
  const canvas = page.getByTestId('plan-editor');
  const box = (await canvas.boundingBox())!;
  const viewBox = async () => (await canvas.getAttribute('viewBox'))!.split(' ').map(Number);
  const [, , fullWidth] = await viewBox();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Emulation.setTouchEmulationEnabled', { enabled: true, maxTouchPoints: 2 });
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const touch = (type: string, points: [number, number][]) =>
    cdp.send('Input.dispatchTouchEvent', { type, touchPoints: points.map(([x, y], id) => ({ x, y, id })) });
  // Fingers 40 px apart spread to 160 px: four times closer, around the same middle.
  await touch('touchStart', [[cx - 20, cy], [cx + 20, cy]]);
  for (const half of [40, 60, 80]) await touch('touchMove', [[cx - half, cy], [cx + half, cy]]);
  await touch('touchEnd', []);
  await expect.poll(async () => Math.round(fullWidth / (await viewBox())[2])).toBe(4);
  // Both fingers moving left together move the view right across the plan.
  const [xBefore] = await viewBox();
  await touch('touchStart', [[cx - 40, cy], [cx + 40, cy]]);
  for (const dx of [20, 40, 60]) await touch('touchMove', [[cx - 40 - dx, cy], [cx + 40 - dx, cy]]);
  await touch('touchEnd', []);
  await expect.poll(async () => (await viewBox())[0]).toBeGreaterThan(xBefore);
});
