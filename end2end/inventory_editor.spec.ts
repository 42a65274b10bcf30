import { test, expect, Page } from '@playwright/test';
import { hydrated, setLanguage, signIn, violations } from './helpers';

// A 1200 × 800 drawing with a script and an outside image, which the upload removes.
const PLAN_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1200 800" onload="alert(1)">
<script>alert(2)</script>
<rect x="20" y="20" width="1160" height="760" fill="#fff" stroke="#333" stroke-width="6"/>
<image href="https://evil.example/x.png" width="5" height="5"/>
<text x="40" y="60">Annex floor</text>
</svg>`;

/** The screen point of plan pixel (x, y) in the editor, from the canvas's box. */
async function at(page: Page, x: number, y: number): Promise<[number, number]> {
  const box = (await page.getByTestId('plan-editor').boundingBox())!;
  return [box.x + (x * box.width) / 1200, box.y + (y * box.height) / 800];
}

test('add a unit, upload a plan, set its scale, draw the unit by mouse, move a corner by keyboard, link it and hold it from the map while another member watches', async ({ page, browser }) => {
  const code = `AX-${Date.now() % 1_000_000}`;
  await signIn(page, 'admin@demo.leadline.test');
  await page.goto('/inventory');
  await hydrated(page);
  await page.getByRole('link', { name: 'Set up inventory' }).click();
  await hydrated(page);
  expect(await violations(page), '/inventory/setup').toEqual([]);

  // A new unit in Nile Towers; a price that is not a number is refused beside its field.
  const unitForm = page.getByTestId('unit-form');
  await unitForm.getByLabel('Project').selectOption({ label: 'Nile Towers' });
  await unitForm.getByLabel('Unit code').fill(code);
  await unitForm.getByLabel('Bedrooms').fill('2');
  await unitForm.getByLabel('Size (m²)').fill('118');
  await unitForm.getByLabel('Price').fill('lots');
  await unitForm.getByRole('button', { name: 'Add unit' }).click();
  await expect(unitForm.getByText('Enter the price as a number')).toBeVisible();
  await unitForm.getByLabel('Price').fill('4,350,000');
  await unitForm.getByRole('button', { name: 'Add unit' }).click();
  await expect(page.getByTestId('setup-status')).toContainText('Unit added.');

  // Upload a drawing: it opens in the editor, without its script.
  const upload = page.getByTestId('plan-upload');
  await upload.getByLabel('Project').selectOption({ label: 'Nile Towers' });
  await upload.getByLabel('Plan name').fill(`Annex ${code}`);
  await upload.getByLabel('Drawing').setInputFiles({ name: 'annex.svg', mimeType: 'image/svg+xml', buffer: Buffer.from(PLAN_SVG) });
  await upload.getByRole('button', { name: 'Upload and draw' }).click();
  await expect(page).toHaveURL(/\/inventory\/plans\/[0-9a-f-]+\?edit=1$/);
  await hydrated(page);
  const planUrl = page.url().replace('?edit=1', '');
  const drawing = await page.request.get(await page.locator('[data-testid=plan-editor] image').getAttribute('href') as string);
  expect(await drawing.text()).not.toContain('script');
  expect(await violations(page), 'editor').toEqual([]);

  // Scale: a 600 px line is 30 m, so a pixel is 5 cm.
  await page.getByRole('button', { name: 'Set scale' }).click();
  await page.mouse.click(...(await at(page, 100, 700)));
  await page.mouse.click(...(await at(page, 700, 700)));
  await page.getByLabel('Real length (m)').fill('30');
  await page.getByRole('button', { name: 'Set the scale' }).click();
  await expect(page.getByTestId('plan-scale')).toContainText(/1 pixel is 5\.\d\d cm/);

  // Draw a 200 × 200 px rectangle by mouse: about 100 m².
  await page.getByRole('button', { name: 'Draw rectangle' }).click();
  await page.mouse.move(...(await at(page, 100, 100)));
  await page.mouse.down();
  await page.mouse.move(...(await at(page, 200, 200)));
  await page.mouse.move(...(await at(page, 300, 300)));
  await page.mouse.up();
  await expect(page.getByTestId('editor-status')).toContainText('Shape drawn');
  const area = async () => parseFloat((await page.getByTestId('shape-measure').textContent())!);
  expect(Math.abs((await area()) - 100)).toBeLessThan(3);

  // Move the third corner 50 px right with the keyboard: a trapezoid of about 112.5 m².
  const corner = page.getByRole('button', { name: /^Corner 3 of 4, at/ });
  await corner.focus();
  for (let i = 0; i < 5; i++) await page.keyboard.press('Shift+ArrowRight');
  await expect(corner).toBeFocused();
  expect(Math.abs((await area()) - 112.5)).toBeLessThan(3);
  // Undo puts it back a step; redo again.
  await page.keyboard.press('Control+z');
  await page.keyboard.press('Control+Shift+z');

  // Link it to the new unit through the search, label it and save it.
  const panel = page.getByTestId('shape-panel');
  await panel.getByLabel('Find a unit by code').fill(code);
  await expect(panel.getByLabel('Linked unit').locator('option', { hasText: code })).toHaveCount(1);
  await panel.getByLabel('Linked unit').selectOption({ label: `Unit ${code}, 2 bedrooms, 118 m², EGP 4,350,000, available` });
  await panel.getByLabel('Label').fill(code);
  await panel.getByRole('button', { name: 'Save shape' }).click();
  await expect(page.getByTestId('editor-status')).toContainText('Shape saved.');

  // A second member watches the map; the admin holds the unit from it.
  const other = await browser.newContext();
  const watcher = await other.newPage();
  await signIn(watcher, 'manager@demo.leadline.test');
  await watcher.goto(planUrl);
  await hydrated(watcher);
  const watched = watcher.getByTestId('plan-map').getByRole('button', { name: new RegExp(`^Unit ${code}, 2 bedrooms, 118 m², EGP 4,350,000, available$`) });
  await expect(watched).toBeVisible();

  await page.getByRole('link', { name: 'Done editing' }).click();
  await hydrated(page);
  const map = page.getByTestId('plan-map');
  await map.getByRole('button', { name: new RegExp(`^Unit ${code},`) }).focus();
  await page.keyboard.press('Enter');
  const unitPanel = page.getByTestId('unit-panel');
  await unitPanel.getByLabel('Hold for deal').selectOption({ index: 0 });
  await unitPanel.getByRole('button', { name: 'Hold', exact: true }).click();
  await expect(unitPanel.getByTestId('unit-hold')).toContainText('Held for');

  // The watcher's map recolours without a reload.
  await expect(watcher.getByTestId('plan-map').getByRole('button', { name: new RegExp(`^Unit ${code}, .*, held$`) })).toBeVisible({ timeout: 10_000 });
  await expect(watcher.getByTestId('plan-list')).toContainText(`Unit ${code}`);
  await other.close();
});

test('inventory set-up, the map and the plan editor pass axe in Arabic at 1280 and 390 px', async ({ page }) => {
  await signIn(page, 'admin@demo.leadline.test');
  try {
    await setLanguage(page, 'ar');
    await page.goto('/inventory');
    await hydrated(page);
    const plan = await page.locator('a[href^="/inventory/plans/"]').first().getAttribute('href');
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: 800 });
      for (const path of ['/inventory/setup', plan!, `${plan}?edit=1`]) {
        await page.goto(path);
        await hydrated(page);
        await expect(page.locator('html')).toHaveAttribute('dir', 'rtl');
        expect(await violations(page), `${path} in Arabic at ${width} px`).toEqual([]);
      }
    }
  } finally {
    await page.setViewportSize({ width: 1280, height: 800 });
    await setLanguage(page, '');
  }
});
