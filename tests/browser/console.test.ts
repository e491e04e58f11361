/**
 * The operator console in a real browser (Debian's chromium, headless, driven by
 * playwright-core) against a real marketplace: devnet, signer and a node agent, each its own
 * process. An operator initializes the admin (with the setup token the signer printed), logs in, uploads and publishes the bundled
 * classifier, creates a token limited to it; a client calls inference with that token; the
 * dashboard, left open, shows the call on its plot after its live update, without a reload. The
 * token then goes to data level L2, a call with personal data in it is refused, and the refusal is
 * on the guard's audit log page.
 * Each page is also looked at 420 px wide (a phone): nothing may widen the page past the screen.
 * Screenshots, at 1280 and 420 px, go to tests/artifacts/.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from '../../scripts/lib/services.js';
import { classifierPath, type Marketplace } from '../../scripts/lib/marketplace.js';
import { submitTasks, waitSettled } from '../../scripts/lib/workload.js';
import { FAST_SIGNER_TOML, key, marketplace } from '../e2e/helpers.js';
import { SETUP_TOKEN_FILE } from '../../signer/console/setup.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'tests', 'artifacts');
/** Name the operator publishes the bundled classifier under from the console. */
const MODEL = 'console-cls';
const ADMIN = { username: 'operator', password: 'a long browser-test password' };

let m: Marketplace;
/** The example OIP request body for the classifier. */
let input: string;
/** The API token the operator creates, shown once on the tokens page. */
let token: string;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  // Not a skip: without chromium this suite cannot say anything about the console.
  if (!existsSync(CHROMIUM))
    throw new Error(
      `chromium not found at ${CHROMIUM}: install it with "sudo apt-get install -y chromium" (what .ci/run does), or set CHROMIUM_PATH to a Chromium binary`,
    );
  mkdirSync(ARTIFACTS, { recursive: true });
  ({ m, input } = await marketplace({
    signerConfigToml: `${FAST_SIGNER_TOML}\n[dashboard]\nrefresh_ms = 500\ntotals_refresh_ms = 0\n`,
  }));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
  });
  page = await browser.newPage({ viewport: DESKTOP });
  // The token page's copy button writes to the clipboard; reading it back needs the permission.
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: m.signerUrl });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await m?.stop();
}, 60_000);

/** A waitForURL predicate: this path, whatever the query (flash messages travel there). */
const at = (path: string) => (url: URL) => url.pathname === path;
const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 420, height: 900 };

/**
 * Shows the page 420 px wide (reloaded, unless it is the answer to a form), takes `name`-phone,
 * checks that nothing is wider than the screen, and goes back to 1280 px.
 */
async function atPhoneWidth(
  name: string,
  { ready, reload = true }: { ready?: string; reload?: boolean } = {},
): Promise<void> {
  const resize = async (size: typeof DESKTOP) => {
    await page.setViewportSize(size);
    if (reload) await page.reload();
    if (ready) await page.waitForSelector(ready);
  };
  await resize(PHONE);
  await shot(`${name}-phone`);
  const widths = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
  }));
  await resize(DESKTOP);
  expect(widths.scroll, `${name} at 420 px: the page is ${widths.scroll} px wide`).toBeLessThanOrEqual(widths.inner);
}

/** The texts of every plot legend's values. */
const legendValues = () => page.locator('.plot .u-legend .u-value').allTextContents();

describe('operator console in chromium', () => {
  it('sends a first visit to the initialization page, which asks for the setup token; the printed link creates the admin and logs in', async () => {
    await page.goto(`${m.signerUrl}/console`);
    expect(new URL(page.url()).pathname).toBe('/console/init');
    // Without the token the signer printed, nobody who merely reaches the page becomes the admin.
    await page.waitForSelector('#token');
    // The link `npm start` prints: the token the signer wrote (0600) in its data folder.
    const setupToken = readFileSync(join(m.dataDir, SETUP_TOKEN_FILE), 'utf8').trim();
    await page.goto(`${m.signerUrl}/console/init?token=${setupToken}`);
    expect(await page.locator('#token').count()).toBe(0);
    await page.fill('#username', ADMIN.username);
    await page.fill('#password', ADMIN.password);
    await shot('01-init');
    await Promise.all([page.waitForURL(at('/console')), page.click('button[type=submit]')]);
    await expect(page.locator('h1').textContent()).resolves.toBe('Dashboard');
    // The page the form lands on says what happened.
    await expect(page.locator('.flash.notice').textContent()).resolves.toBe(
      `admin ${ADMIN.username} created; you are logged in`,
    );
  });

  it('serves a favicon where browsers look for it, and names it in every page', async () => {
    const res = await fetch(`${m.signerUrl}/favicon.ico`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/x-icon');
    expect(await page.getAttribute('link[rel="icon"]', 'href')).toBe('/favicon.ico');
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
    // Legends say something before anyone hovers a plot (uPlot's own shows "--").
    const legends = await legendValues();
    expect(legends.length).toBeGreaterThan(0);
    expect(legends.filter((v) => v.trim() === '--' || v.trim() === '')).toEqual([]);
    await shot('02-dashboard');
    await atPhoneWidth('02-dashboard', { ready: '#plot-throughput .uplot' });
  });

  it('uploads the bundled classifier, which onnxruntime validates, and publishes it on chain at a price', async () => {
    await page.goto(`${m.signerUrl}/console/models`);
    await page.fill('#model-name', MODEL);
    await page.setInputFiles('#model-file', classifierPath());
    await page.getByRole('button', { name: 'Upload and validate' }).click();
    // The page comes back from each form post with the upload's new status.
    const row = page.locator('tr[id^="upload-"]', { hasText: MODEL });
    await row.locator('.status', { hasText: /^validated$/ }).waitFor();
    await row.locator('input[name="price"]').fill('2500');
    await row.getByRole('button', { name: 'Publish' }).click();
    // Publishing waits for the registry transaction to be mined.
    await row.locator('.status', { hasText: /^published$/ }).waitFor({ timeout: 120_000 });
    // The models on chain: the bundled one deployed by the marketplace's wallet, and this one, the signer's own.
    await expect(page.locator(`#chain-model-${MODEL}`).getAttribute('data-owned')).resolves.toBe('true');
    await expect(page.locator(`#chain-model-${MODEL} .status.mine`).textContent()).resolves.toBe('this signer');
    await expect(page.locator('#chain-model-ppocr-cls').getAttribute('data-owned')).resolves.toBe('false');
    await shot('03-models');
    await atPhoneWidth('03-models');
  }, 180_000);

  it('creates an API token limited to that model, shown once', async () => {
    await page.goto(`${m.signerUrl}/console/tokens`);
    await page.fill('#name', 'browser-client');
    await page.fill('#allowed_models', MODEL);
    await page.getByRole('button', { name: 'Create token' }).click();
    token = (await page.locator('#new-token-value').textContent())!.trim();
    expect(token.length).toBeGreaterThan(20);
    const copy = page.getByRole('button', { name: /copy the token/ });
    await copy.click();
    // The copy is asynchronous (the Clipboard API): the label changes once it is done.
    await expect.poll(() => copy.textContent(), { timeout: 5_000 }).toBe('Copied');
    const copied = await page.evaluate(async () => ({
      clipboard: await navigator.clipboard.readText().catch(() => null),
      selection: window.getSelection()?.toString().trim(),
    }));
    expect(copied.clipboard).toBe(token);
    expect(copied.selection).toBe(token);
    await shot('04-token');
    // The page that shows the token answers the form: not reloaded (that would post it again).
    await atPhoneWidth('04-token', { reload: false });
  });

  it('shows a direct call made with the token on the open dashboard, updated in place', async () => {
    await page.goto(`${m.signerUrl}/console`);
    await page.waitForSelector('#plot-usage-model .uplot');
    // Marks this document: a reload would drop the mark.
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    expect(await page.getAttribute('#plot-usage-model', 'data-total')).toBe('0');

    const call = (model: string) =>
      fetch(`${m.signerUrl}/api/v1/models/${model}/infer`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: readFileSync(input),
      });
    const res = await call(MODEL);
    expect(res.status, await res.clone().text()).toBe(200);
    const result = (await res.json()) as { data: { outputs: { data: number[] }[] } };
    expect(result.data.outputs[0].data.length).toBeGreaterThan(0);
    // The token is limited to the published model.
    expect((await call('ppocr-cls')).status).toBe(403);

    await page.waitForFunction(
      (model) => {
        const plot = document.querySelector<HTMLElement>('#plot-usage-model')!;
        return plot.dataset.total === '1' && plot.dataset.series!.split('|').includes(`${model} (direct)`);
      },
      MODEL,
      { timeout: 30_000 },
    );
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    expect(await page.getAttribute('#plot-usage-token', 'data-series')).toBe('browser-client');
    await expect(page.locator('[data-field="usage.totals.direct_calls"]').textContent()).resolves.toBe('1');
    await expect(page.locator('#models-table tr', { hasText: MODEL }).textContent()).resolves.toMatch(/0\.0025 STX/);
    await shot('05-dashboard-after-call');
  });

  it("lists an escrowed task's settlement with links to the chain and to the task, and the node's earnings", async () => {
    const ids = await submitTasks(m, { model: MODEL, walletKeys: [key('wallet_1')], count: 2, inputFile: input });
    expect(Object.fromEntries(await waitSettled(m.signerUrl, ids, 90_000))).toEqual({ settled: 2 });
    // Still the same document: the rows arrive by the live update.
    await page.waitForFunction(
      () =>
        document.querySelectorAll('#settlements-table tbody tr').length > 0 &&
        document.querySelectorAll('#earnings-table tbody tr').length > 0,
      undefined,
      { timeout: 30_000 },
    );
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    await expect(page.locator('#earnings-table tbody tr').first().textContent()).resolves.toMatch(/node-1/);
    expect((await page.getAttribute('#plot-usage-model', 'data-series'))!.split('|')).toContain(`${MODEL} (chain)`);

    const row = page.locator('#settlements-table tbody tr').first();
    const tx = (await (await fetch((await row.locator('td a').first().getAttribute('href'))!)).json()) as {
      tx_status: string;
    };
    expect(tx.tx_status).toBe('success');
    const taskLinks = await row
      .locator('a.task-link')
      .evaluateAll((as) => as.map((a) => (a as HTMLAnchorElement).href));
    expect(taskLinks.length).toBeGreaterThan(0);
    const status = (await (await fetch(taskLinks[0])).json()) as { data: { status: string } };
    expect(status.data.status).toBe('settled');
    await expect(legendValues()).resolves.not.toContain('--');
    await shot('06-dashboard-settled');
    await atPhoneWidth('06-dashboard-settled', { ready: '#plot-throughput .uplot' });
  }, 180_000);

  it('sets the token to L2 on its edit page; a call whose input holds an e-mail address and an ID number is refused, and the refusal is in the audit log', async () => {
    await page.goto(`${m.signerUrl}/console/tokens`);
    const row = page.locator('tr[data-token-id]', { hasText: 'browser-client' });
    await expect(row.locator('td.data-level').textContent()).resolves.toBe('default (L1)');
    await Promise.all([
      page.waitForURL((url) => /^\/console\/tokens\/\d+$/.test(url.pathname)),
      row.getByRole('link', { name: 'Edit' }).click(),
    ]);
    await page.selectOption('#data_level', 'L2');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(page.locator('.flash.notice').textContent()).resolves.toBe('saved browser-client');
    await expect(page.locator('#data_level').inputValue()).resolves.toBe('L2');
    await page.goto(`${m.signerUrl}/console/tokens`);
    await expect(row.locator('td.data-level').textContent()).resolves.toBe('L2');

    // The guard runs before the input is checked against the model: a text tensor is enough to be refused.
    const personal = ['write to zhang_san@example.com', 'id 11010519491231002X'];
    const res = await fetch(`${m.signerUrl}/api/v1/models/${MODEL}/infer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'x', shape: [2], datatype: 'BYTES', data: personal }] }),
    });
    const refusal = (await res.json()) as { code: string; error: string };
    expect(res.status, refusal.error).toBe(422);
    expect(refusal.code).toBe('policy_refused');
    expect(refusal.error).toContain('email at $.inputs[0].data[0], cn_id at $.inputs[0].data[1]');

    // The Privacy page: the model's level, and the node, trusted here with L2 inputs in clear text.
    await Promise.all([
      page.waitForURL(at('/console/privacy')),
      page.locator('header nav').getByRole('link', { name: 'Privacy' }).click(),
    ]);
    await expect(page.locator(`tr[data-model="${MODEL}"] select`).inputValue()).resolves.toBe('default');
    const node = page.locator('tr[data-node="node-1"]');
    await node.getByRole('button', { name: 'Trust', exact: true }).click();
    await expect(page.locator('.flash.notice').textContent()).resolves.toBe(
      'node-1 is trusted: it may run L2 inputs in clear text',
    );
    await expect(node.locator('.status').textContent()).resolves.toBe('trusted');
    await shot('07-privacy');
    await atPhoneWidth('07-privacy', { reload: false });

    await Promise.all([
      page.waitForURL(at('/console/privacy/audit')),
      page.getByRole('link', { name: 'audit log' }).click(),
    ]);
    const refused = page.locator('#audit-log tr[data-action="refuse"]');
    await expect(refused.count()).resolves.toBe(2);
    await expect(refused.first().textContent()).resolves.toMatch(
      new RegExp(`browser-client${MODEL}L2cn_id\\$\\.inputs\\[0\\]\\.data\\[1\\]refuse`),
    );
    expect(await page.content()).not.toContain('zhang_san');
    await page.selectOption('#filter-rule', 'email');
    await Promise.all([
      page.waitForURL((url) => url.searchParams.get('rule') === 'email'),
      page.getByRole('button', { name: 'Filter' }).click(),
    ]);
    await expect(page.locator('#audit-log tbody tr').count()).resolves.toBe(1);
    // The download link, fetched with the page's session cookie.
    const csv = await page.request.get(
      `${m.signerUrl}${await page.getByRole('link', { name: 'CSV' }).getAttribute('href')}`,
    );
    expect(csv.headers()['content-type']).toBe('text/csv; charset=utf-8');
    expect(await csv.text()).toMatch(
      new RegExp(`,browser-client,${MODEL},[^,]+,L2,email,\\$\\.inputs\\[0\\]\\.data\\[0\\],refuse\\r\\n$`),
    );
    await shot('08-audit');
    await atPhoneWidth('08-audit');
  });
});
