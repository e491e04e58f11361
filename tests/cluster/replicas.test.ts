/**
 * Two signer replicas on one PostgreSQL database serve the same nodes and users (issue 15): a
 * task is leased once whichever replica each node pulls from, and a node's in-flight cap holds
 * across them; a signed request used on one is a replay on the other; the console's setup token,
 * sessions and login throttle, and a token's rate limit, are the same on both; a direct request
 * waiting on one replica is answered when its result reaches the other. Runs in the `signer-pg`
 * project only (tests/cluster).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_AUTH_HEADERS, sha256Hex } from '../../protocol/index.js';
import type { ModelHead } from '../../signer/catalog/index.js';
import { createApp, createServices, openDatabase, resolveConfig, type Services } from '../../signer/index.js';
import { getNode, registerNode } from '../../signer/nodes/index.js';
import { acceptResult } from '../../signer/tasks/results.js';
import { leaseNext } from '../../signer/tasks/index.js';
import { admit } from '../../signer/tokens/admission.js';
import { createToken } from '../../signer/tokens/service.js';
import { ARTIFACT_A, ESCROW, TestNode, body, testDatabaseLocation } from '../signer/helpers.js';
import type { ReplicaWorkerData, ReplicaWorkerReport } from './replica-worker.js';

const ORIGIN = 'http://localhost';
const ADMIN = { username: 'admin', password: 'correct horse battery staple' };
const MAX_LOGIN_FAILURES = 3;

interface Replica {
  s: Services;
  app: ReturnType<typeof createApp>;
  /** Everything it logged, as JSON lines. */
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

/** A replica: its own connection, services and app over the shared database. */
function replica(url: string): Replica {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const config = resolveConfig({
    database: { path: url },
    log: { level: 'silent' },
    console: { login_max_failures: MAX_LOGIN_FAILURES, login_max_failures_per_address: 100 },
    // No task is held back for a better node: which node leases what is not under test here.
    scheduler: { prefer_better_node_ms: 0 },
  });
  const store = openDatabase(url);
  const s = createServices({ config, store, log: pino({ level: 'info' }, sink), escrow: ESCROW });
  return {
    s,
    app: createApp(s),
    logs,
    close: async () => {
      s.inference.close();
      await s.verifier.close();
      await s.dashboardTotals.close();
      store.close();
    },
  };
}

let dir: string;
let url: string;
let a: Replica;
let b: Replica;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'signer-replicas-'));
  url = testDatabaseLocation(dir);
  a = replica(url);
  b = replica(url);
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  rmSync(dir, { recursive: true, force: true });
});

let nextTask = 1;
/** A pending chain task of model A, as the leader's watcher would have ingested it (one raw insert). */
function addTask(s: Services, at = Date.now()): string {
  const id = String(nextTask++);
  s.store.sqlite
    .prepare(
      "insert into inference_tasks (task_id, chain_task_id, user_address, fee, infer_fee, max_infer_time, model_type, model_output, artifact_hash, input_hash, status, privacy, priority, source, created_at, updated_at) values (?, ?, 'ST2CY5V39NHDPWSXMW9QDT3HC3GD6Q6XX4CFRK9AG', '1000', '1000', 60000, 'model-a', '1', ?, ?, 'pending', 'standard', 0, 'chain', ?, ?)",
    )
    .run(id, id, ARTIFACT_A, sha256Hex(`input-${id}`), at, at);
  return id;
}

/** Runs two replica workers (processes) on `data` at the same moment; their reports. */
async function race(data: ReplicaWorkerData): Promise<ReplicaWorkerReport[]> {
  const workers = [0, 1].map(() =>
    fork(fileURLToPath(new URL('./replica-worker.ts', import.meta.url)), {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, REPLICA_WORKER_DATA: JSON.stringify(data) },
    }),
  );
  const message = (w: ChildProcess) =>
    new Promise<unknown>((ok, fail) => {
      w.once('message', ok);
      w.once('error', fail);
      w.once('exit', (code) => fail(new Error(`replica worker exited with ${code}`)));
    });
  try {
    await Promise.all(workers.map(message));
    const reports = workers.map((w) => message(w) as Promise<ReplicaWorkerReport>);
    for (const w of workers) w.send('go');
    return await Promise.all(reports);
  } finally {
    for (const w of workers) w.kill();
  }
}

const json = (payload: unknown, extra: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', origin: ORIGIN, ...extra },
  body: JSON.stringify(payload),
});

describe('two replicas on one PostgreSQL database', () => {
  it('never lease a task twice, and hold each node to its in-flight cap, when many nodes pull on both at once', async () => {
    const cap = 3;
    const nodes = Array.from({ length: 12 }, (_, i) => new TestNode(`lease-node-${i}`));
    for (const n of nodes) registerNode(a.s.store, n.registration(), 1000);
    // More work than the nodes may hold at once: the cap, not the queue, decides how much is leased.
    const tasks = Array.from({ length: 60 }, () => addTask(a.s, Date.now() - 60_000));
    const data: ReplicaWorkerData = {
      url,
      nodes: nodes.map((n) => n.nodeId),
      rounds: 6,
      scheduler: { max_in_flight_per_node: cap, prefer_better_node_ms: 0 },
    };
    const [ra, rb] = await race(data);
    expect([...ra!.errors, ...rb!.errors]).toEqual([]);
    const leased = [...ra!.leased, ...rb!.leased];
    // Both replicas leased (the race was real), and no task was handed out twice.
    expect(ra!.leased.length).toBeGreaterThan(0);
    expect(rb!.leased.length).toBeGreaterThan(0);
    expect(new Set(leased.map((l) => l.task)).size).toBe(leased.length);
    expect(leased.length).toBe(nodes.length * cap);
    const rows = a.s.store.sqlite
      .prepare(
        "select inference_node_id as node, count(*) as n from inference_tasks where status = 'in_progress' group by inference_node_id",
      )
      .all() as { node: string; n: number }[];
    expect(rows.every((r) => r.n === cap)).toBe(true);
    expect(rows.length).toBe(nodes.length);
    const twice = a.s.store.sqlite
      .prepare("select task_id from task_events where to_status = 'in_progress' group by task_id having count(*) > 1")
      .all();
    expect(twice).toEqual([]);
    expect(tasks.length - leased.length).toBe(60 - nodes.length * cap);
  });

  it('refuse on one replica, as a replay, a signed node request the other accepted', async () => {
    const node = new TestNode('replay-node');
    const reg = await a.app.request(...node.request('POST', '/api/v1/nodes/register', node.registration()));
    expect(reg.status).toBe(201);
    const path = '/api/v1/nodes/heartbeat';
    const hb = JSON.stringify({ node_id: node.nodeId, status: 'online' });
    const headers = node.headers('POST', path, hb);
    expect((await a.app.request(path, { method: 'POST', headers, body: hb })).status).toBe(200);
    const again = await b.app.request(path, { method: 'POST', headers, body: hb });
    expect(again.status).toBe(401);
    expect((await body(again)).code).toBe('signature_replayed');
    // And the other way round.
    const second = node.headers('POST', path, hb, Date.now() + 1);
    expect((await b.app.request(path, { method: 'POST', headers: second, body: hb })).status).toBe(200);
    const back = await a.app.request(path, { method: 'POST', headers: second, body: hb });
    expect((await body(back)).code).toBe('signature_replayed');
    expect(headers[NODE_AUTH_HEADERS.signature]).not.toBe(second[NODE_AUTH_HEADERS.signature]);
  });

  it('share the console: the setup URL one replica printed, a session made on one, the login throttle', async () => {
    const printed = a.logs.find((l) => typeof l.setup_url === 'string')?.setup_url as string;
    expect(printed).toMatch(/\/console\/init\?token=/);
    // The second replica found the token made and says where it was printed.
    expect(b.logs.some((l) => String(l.msg).includes('another signer replica made its setup token'))).toBe(true);
    const token = new URL(printed, ORIGIN).searchParams.get('token');
    const init = await b.app.request('/api/v1/admin/init', json({ ...ADMIN, setup_token: token }));
    expect(init.status).toBe(201);
    expect(a.s.consoleSetup.pending).toBe(false);

    const login = await a.app.request('/api/v1/admin/login', json(ADMIN));
    expect(login.status).toBe(200);
    const cookie = login.headers
      .getSetCookie()
      .find((c) => c.startsWith('signer_session='))!
      .split(';')[0]!;
    const me = await b.app.request('/api/v1/admin/me', { headers: { cookie, origin: ORIGIN } });
    expect(me.status).toBe(200);
    expect((await body(me)).data.username).toBe(ADMIN.username);

    // Failures on either replica count together: the next try after the limit is refused on both.
    const wrong = { ...ADMIN, password: 'not the password at all' };
    for (let i = 0; i < MAX_LOGIN_FAILURES; i++) {
      const res = await (i % 2 ? b : a).app.request('/api/v1/admin/login', json(wrong));
      expect(res.status).toBe(401);
    }
    for (const r of [a, b]) {
      const res = await r.app.request('/api/v1/admin/login', json(ADMIN));
      expect(res.status).toBe(429);
    }
  });

  it("count a token's rate limit across both replicas, also when both admit at once", async () => {
    const { view } = createToken(a.s.store, { name: 'shared', rate_limit_per_minute: 3, monthly_quota: 0 });
    const now = Date.now();
    expect(admit(a.s.store, view.id, now).kind).toBe('admitted');
    expect(admit(b.s.store, view.id, now + 1).kind).toBe('admitted');
    expect(admit(a.s.store, view.id, now + 2).kind).toBe('admitted');
    expect(admit(b.s.store, view.id, now + 3).kind).toBe('over_rate');
    expect(admit(a.s.store, view.id, now + 4).kind).toBe('over_rate');
    // Two replicas admitting 40 requests each at the same moment: exactly the limit passes, none fails
    // (REPEATABLE READ: the second writer of the counters runs again on the first's result).
    const busy = createToken(a.s.store, { name: 'busy', rate_limit_per_minute: 50, monthly_quota: 0 }).view;
    const reports = await race({ url, nodes: [], rounds: 0, scheduler: {}, tokenId: busy.id, admits: 40 });
    expect(reports.flatMap((r) => r.errors)).toEqual([]);
    const total = (kind: string) => reports.reduce((n, r) => n + (r.admissions[kind] ?? 0), 0);
    expect(total('admitted')).toBe(50);
    expect(total('over_rate')).toBe(30);
    const row = a.s.store.sqlite.prepare('select minute_count, total_count from api_tokens where id = ?').get(busy.id);
    expect(row).toEqual({ minute_count: 50, total_count: 50 });
  });

  it('answer a direct request waiting on one replica when its task completes on the other', async () => {
    const node = new TestNode('direct-node');
    registerNode(b.s.store, node.registration(), 1000);
    const model: ModelHead = {
      name: 'model-a',
      output_id: 'console:1',
      artifact_hash: ARTIFACT_A,
      version: 1,
      price: '0',
      owner: 'console',
      format: 'onnx',
      uri: '',
      source: 'console',
    };
    const [task] = a.s.inference.enqueue([{ inputs: [] }], {
      model,
      tokenId: null,
      requestId: 'direct-across',
      priority: 10,
      timeoutMs: 30_000,
    });
    const answered = a.s.inference.finished(task!.task_id);
    // A replica starting now adopts the open request too (as a restarted signer does): both track it.
    const c = replica(url);
    expect(c.s.inference.size).toBe(1);
    const leased = leaseNext(b.s, node.nodeId)!;
    expect(leased.task_id).toBe(task!.task_id);
    const done = await acceptResult(b.s, getNode(b.s.store, node.nodeId)!, node.result(leased));
    expect(done.status).toBe('completed');
    const started = Date.now();
    const row = await Promise.race([answered, new Promise<null>((ok) => setTimeout(() => ok(null), 5_000))]);
    expect(row?.status).toBe('completed');
    // The waiter polls every 250 ms.
    expect(Date.now() - started).toBeLessThan(2_000);
    // Both replicas that tracked it let it go, and it is metered once.
    await expect.poll(() => c.s.inference.size, { timeout: 3_000 }).toBe(0);
    const logs = a.s.store.sqlite.prepare("select status from inference_logs where request_id = 'direct-across'").all();
    expect(logs).toEqual([{ status: 'success' }]);
    await c.close();
  });
});
