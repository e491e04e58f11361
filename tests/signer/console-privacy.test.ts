/**
 * The console's privacy pages through the app: a token's data level on the token forms, models'
 * levels and nodes' trusted flag on /console/privacy (which the guard then applies), the guard's
 * audit log page (newest first, paged, filtered) and its CSV and JSON downloads, and refusals of
 * posts without the CSRF token or from another site, and of anyone not logged in.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { apiTokens, inferenceNodes, modelPolicies } from '../../signer/db/index.js';
import { csvField } from '../../signer/console/index.js';
import { adminSession, ORIGIN, type AdminSessionHeaders } from './console-helpers.js';
import { body, makeSigner, publishConsoleModel, register, TestNode, type TestSigner } from './helpers.js';

const MODEL = 'text-model';
const EMAIL = 'zhang_san@example.com';
const CN_ID = '11010519491231002X';
const text = (...data: string[]) => ({ inputs: [{ name: 'text', shape: [data.length], datatype: 'BYTES', data }] });

let t: TestSigner;
let admin: AdminSessionHeaders;

/** A console form post as the browser sends it, with the session's CSRF field. */
function post(path: string, fields: Record<string, string>, headers: Record<string, string> = admin.headers) {
  return t.app.request(path, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}
const get = (path: string) => t.app.request(path, { headers: { cookie: admin.cookie } });
const flash = (res: Response) => new URL(res.headers.get('location')!, ORIGIN).searchParams;

/** Creates a token with the console's form; returns its plain token and id. */
async function createToken(name: string, dataLevel: string): Promise<{ token: string; id: number }> {
  const res = await post('/console/tokens', { name, rate_limit_per_minute: '0', data_level: dataLevel });
  expect(res.status).toBe(201);
  const token = /id="new-token-value">([^<]+)</.exec(await res.text())![1]!;
  const row = t.s.store.db.select().from(apiTokens).where(eq(apiTokens.name, name)).get()!;
  return { token, id: row.id };
}

const infer = (token: string, payload: unknown) =>
  t.app.request(`/api/v1/models/${MODEL}/infer?async=1`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(payload),
  });

beforeEach(async () => {
  t = makeSigner({ inference: { queue_size: 8, timeout_ms: 10_000 } });
  admin = await adminSession(t);
  publishConsoleModel(t, MODEL, {
    inputs: [{ name: 'text', type: 'string', shape: ['batch'] }],
    outputs: [{ name: 'label', type: 'float32', shape: ['batch'] }],
  });
});
afterEach(() => {
  t.s.inference.close();
  t.close();
});

describe('data levels in the console', () => {
  it("a token's form sets its level (default: the guard's), and the list shows it", async () => {
    const { id } = await createToken('sensitive-client', 'L2');
    expect(t.s.store.db.select().from(apiTokens).where(eq(apiTokens.id, id)).get()!.data_level).toBe('L2');
    const list = await (await get('/console/tokens')).text();
    expect(list).toMatch(new RegExp(`data-token-id="${id}">.*<td class="data-level">L2</td>`, 's'));
    expect(await (await get(`/console/tokens/${id}`)).text()).toMatch(/<option value="L2" selected="">/);

    const saved = await post(`/console/tokens/${id}`, { name: 'sensitive-client', data_level: 'default' });
    expect(flash(saved).get('notice')).toBe('saved sensitive-client');
    expect(t.s.store.db.select().from(apiTokens).where(eq(apiTokens.id, id)).get()!.data_level).toBeNull();
    expect(await (await get('/console/tokens')).text()).toContain('<td class="data-level">default (L1)</td>');

    const bad = await post(`/console/tokens/${id}`, { name: 'sensitive-client', data_level: 'L3' });
    expect(flash(bad).get('error')).toMatch(/data_level.*L0.*L1.*L2/);
  });

  it("a model's level is set and cleared on the Privacy page, and the guard applies it", async () => {
    const page = await (await get('/console/privacy')).text();
    expect(page).toMatch(
      new RegExp(`data-model="${MODEL}">.*<option value="default" selected="">default \\(L1\\)`, 's'),
    );
    const { token } = await createToken('plain-client', 'default');
    expect((await infer(token, text(`mail ${EMAIL}`))).status).toBe(202);

    const set = await post('/console/privacy/models', { model: MODEL, data_level: 'L2' });
    expect(set.status).toBe(303);
    expect(flash(set).get('notice')).toBe(`${MODEL} is now L2`);
    expect(t.s.store.db.select().from(modelPolicies).all()).toMatchObject([{ model: MODEL, data_level: 'L2' }]);
    expect(await (await get('/console/privacy')).text()).toMatch(
      new RegExp(`data-model="${MODEL}">.*<option value="L2" selected="">`, 's'),
    );
    const refused = await infer(token, text(`mail ${EMAIL}`));
    expect(refused.status).toBe(422);
    expect((await body(refused)).code).toBe('policy_refused');

    const cleared = await post('/console/privacy/models', { model: MODEL, data_level: 'default' });
    expect(flash(cleared).get('notice')).toBe(`${MODEL} now has the default level (L1)`);
    expect(t.s.store.db.select().from(modelPolicies).all()).toEqual([]);

    const bad = await post('/console/privacy/models', { model: MODEL, data_level: 'L9' });
    expect(flash(bad).get('error')).toMatch(/data_level must be one of default, L0, L1, L2/);
  });

  it('a node is trusted and untrusted from the Privacy page, which says what trusted means', async () => {
    const node = new TestNode('node-a');
    expect(await register(t, node)).toBe(201);
    const trusted = () =>
      t.s.store.db.select().from(inferenceNodes).where(eq(inferenceNodes.node_id, 'node-a')).get()!.trusted;
    let page = await (await get('/console/privacy')).text();
    expect(page).toContain('may run L2 (sensitive) inputs in clear text');
    expect(page).toContain(
      'L2 sensitive</strong>: personal data is refused; an L2 input in clear text goes only to trusted nodes',
    );
    expect(page).toMatch(/data-node="node-a">.*not trusted.*>Trust</s);

    expect(flash(await post('/console/privacy/nodes', { node_id: 'node-a', trusted: '1' })).get('notice')).toBe(
      'node-a is trusted: it may run L2 inputs in clear text',
    );
    expect(trusted()).toBe(1);
    page = await (await get('/console/privacy')).text();
    expect(page).toMatch(/data-node="node-a">.*<span class="status trusted">trusted<\/span>.*Stop trusting/s);

    await post('/console/privacy/nodes', { node_id: 'node-a', trusted: '0' });
    expect(trusted()).toBe(0);
    expect(flash(await post('/console/privacy/nodes', { node_id: 'ghost', trusted: '1' })).get('error')).toMatch(
      /no registered node "ghost"/,
    );
    expect(flash(await post('/console/privacy/nodes', { node_id: 'node-a', trusted: 'yes' })).get('error')).toMatch(
      /trusted must be 1/,
    );
  });
});

describe('the audit log page and its downloads', () => {
  /** Two tokens' findings: 60 masked e-mails from an L1 token, then an ID number and an e-mail refused at L2. */
  async function findings() {
    const l1 = await createToken('bulk, "Ltd"', 'L1');
    const l2 = await createToken('=HYPERLINK("x")', 'L2');
    expect((await infer(l1.token, text(...Array.from({ length: 60 }, (_, i) => `u${i}.${EMAIL}`)))).status).toBe(202);
    expect((await infer(l2.token, text(`id ${CN_ID}`, `mail ${EMAIL}`))).status).toBe(422);
    return { l1, l2 };
  }
  const rowsOf = (html: string) => [...html.matchAll(/<tr data-audit-id="(\d+)" data-action="(\w+)">/g)];

  it('lists findings newest first, 50 a page, filtered by rule, action, token and model, never the value', async () => {
    const { l1, l2 } = await findings();
    const first = await (await get('/console/privacy/audit')).text();
    expect(first).toContain('Entries 1–50 of 62, newest first.');
    const ids = rowsOf(first).map((r) => Number(r[1]));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(
      rowsOf(first)
        .slice(0, 2)
        .map((r) => r[2]),
    ).toEqual(['refuse', 'refuse']);
    expect(first).toMatch(/<td>cn_id<\/td><td class="mono">\$\.inputs\[0\]\.data\[0\]<\/td>/);
    expect(first).toContain('href="/console/privacy/audit?page=2">Older</a>');
    const second = await (await get('/console/privacy/audit?page=2')).text();
    expect(rowsOf(second)).toHaveLength(12);
    expect(Math.max(...rowsOf(second).map((r) => Number(r[1])))).toBeLessThan(Math.min(...ids));
    for (const html of [first, second]) expect(html).not.toContain('zhang_san');

    const count = async (q: string) => rowsOf(await (await get(`/console/privacy/audit?${q}`)).text()).length;
    expect(await count('rule=cn_id')).toBe(1);
    expect(await count('action=refuse')).toBe(2);
    expect(await count(`token=${l2.id}`)).toBe(2);
    expect(await count(`token=${l1.id}&action=refuse`)).toBe(0);
    expect(await count(`model=${MODEL}&rule=email&action=mask`)).toBe(50);
    expect(await count('model=other-model')).toBe(0);
    // Empty fields (what the filter form sends for "any") filter nothing; the download links keep the filters.
    const filtered = await (await get(`/console/privacy/audit?model=&rule=email&action=&token=${l2.id}`)).text();
    expect(rowsOf(filtered)).toHaveLength(1);
    expect(filtered).toContain(`href="/console/privacy/audit.csv?rule=email&amp;token=${l2.id}"`);

    const bad = await get('/console/privacy/audit?rule=ssn');
    expect(bad.status).toBe(303);
    expect(flash(bad).get('error')).toMatch(/rule: .*email, phone, cn_id, bank_card, ip/);
  });

  it('downloads the filtered log as CSV, quoted right, and as JSON, as attachments', async () => {
    const { l2 } = await findings();
    const csv = await get(`/console/privacy/audit.csv?token=${l2.id}`);
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(csv.headers.get('content-disposition')).toMatch(
      new RegExp(`^attachment; filename="guard-audit_token-${l2.id}_\\d{8}T\\d{4}Z\\.csv"$`),
    );
    const lines = (await csv.text()).split('\r\n');
    expect(lines[0]).toBe('id,at,token_id,token_name,model,request_id,data_level,rule,path,action');
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe('');
    // A token name a spreadsheet would run as a formula is defused with a quote; its quotes are doubled.
    expect(lines[1]).toMatch(
      new RegExp(
        `^\\d+,\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z,${l2.id},"'=HYPERLINK\\(""x""\\)",${MODEL},[^,]+,L2,email,\\$\\.inputs\\[0\\]\\.data\\[1\\],refuse$`,
      ),
    );
    expect(lines[2]).toContain(',L2,cn_id,$.inputs[0].data[0],refuse');

    const json = await get('/console/privacy/audit.json?action=mask');
    expect(json.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(json.headers.get('content-disposition')).toMatch(
      /^attachment; filename="guard-audit_action-mask_.*\.json"$/,
    );
    const rows = (await json.json()) as Record<string, unknown>[];
    expect(rows).toHaveLength(60);
    expect(rows[0]).toMatchObject({ token_name: 'bulk, "Ltd"', model: MODEL, rule: 'email', action: 'mask' });
    expect(rows[0]!.at).toMatch(/Z$/);
    expect(rows.map((r) => r.id)).toEqual(rows.map((r) => r.id).sort((a, b) => Number(b) - Number(a)));
    const all = await (await get('/console/privacy/audit.csv')).text();
    expect(all.split('\r\n')).toHaveLength(64);
    expect(all).not.toContain('zhang_san');

    // A token name with a comma is quoted whole; an empty log is a valid empty JSON array.
    expect(all).toContain(',"bulk, ""Ltd""",');
    expect(await (await get('/console/privacy/audit.json?model=none')).json()).toEqual([]);
    const bad = await get('/console/privacy/audit.json?token=abc');
    expect(bad.status).toBe(400);
    expect((await body(bad)).code).toBe('bad_request');
  });

  it('quotes CSV fields that hold quotes, commas or line breaks, and only those', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\r')).toBe('"cr\r"');
    expect(csvField('-1+1')).toBe("'-1+1");
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvField(42)).toBe('42');
    expect(csvField(null)).toBe('');
  });
});

describe('refusals', () => {
  it('refuses posts without the CSRF token or from another site, and changes nothing', async () => {
    const { 'x-csrf-token': _, ...noToken } = admin.headers;
    const missing = await post('/console/privacy/models', { model: MODEL, data_level: 'L2' }, noToken);
    expect(missing.status).toBe(403);
    expect((await body(missing)).code).toBe('forbidden');
    const wrong = await post(
      '/console/privacy/models',
      { model: MODEL, data_level: 'L2', _csrf: 'x'.repeat(43) },
      noToken,
    );
    expect(wrong.status).toBe(403);
    const foreign = await post(
      '/console/privacy/nodes',
      { node_id: 'node-a', trusted: '1' },
      { ...admin.headers, origin: 'https://evil.example' },
    );
    expect(foreign.status).toBe(403);
    expect((await body(foreign)).error).toMatch(/another site/);
    expect(t.s.store.db.select().from(modelPolicies).all()).toEqual([]);
    // The form field works as well as the header.
    const viaField = await post(
      '/console/privacy/models',
      { model: MODEL, data_level: 'L0', _csrf: admin.csrf },
      noToken,
    );
    expect(flash(viaField).get('notice')).toBe(`${MODEL} is now L0`);
  });

  it('sends anyone not logged in to the login page, pages, posts and downloads alike', async () => {
    const node = new TestNode('node-a');
    await register(t, node);
    for (const path of [
      '/console/privacy',
      '/console/privacy/audit',
      '/console/privacy/audit.csv',
      '/console/privacy/audit.json',
    ]) {
      const res = await t.app.request(path);
      expect(res.status, path).toBe(303);
      expect(res.headers.get('location')).toBe('/console/login');
    }
    const res = await t.app.request('/console/privacy/nodes', {
      method: 'POST',
      headers: { origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ node_id: 'node-a', trusted: '1' }).toString(),
    });
    expect(res.headers.get('location')).toBe('/console/login');
    expect(t.s.store.db.select().from(inferenceNodes).get()!.trusted).toBe(0);
    // A logged-out session is refused too.
    await t.app.request('/console/logout', { method: 'POST', headers: admin.headers });
    expect((await get('/console/privacy/audit.csv')).headers.get('location')).toBe('/console/login');
  });
});
