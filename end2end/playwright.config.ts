import { defineConfig, devices } from '@playwright/test';

// Run by `cargo xtask test`, which starts the server and sets BASE_URL.
// Browsers are never downloaded: we drive the system Chromium.
export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.ts',
  workers: 1,
  // One retry: a test that passes only on its second try is reported as "flaky" by
  // name in the summary (and must be fixed), but a single browser hiccup does not
  // block a landing. A test that fails twice fails the run (DECISIONS 48).
  retries: 1,
  timeout: 60_000,
  // The server on two cores answers a cold page in well under a second alone, but CI
  // runs it beside the browser, the suite's own load and (for the debug smoke run) the
  // release build: 10 s, not the default 5 s, before an expectation on the page fails.
  expect: { timeout: 10_000 },
  reporter: 'list',
  outputDir: './test-results',
  use: {
    baseURL: process.env.BASE_URL || 'http://127.0.0.1:3100',
    headless: true,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-dev-shm-usage',
      ],
    },
  },
  projects: [
    {
      name: 'chromium',
      use: { ...devices['Desktop Chrome'] },
    },
  ],
});
