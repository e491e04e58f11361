/**
 * Crash tests: the signer runs as a real child process against the devnet and is killed with
 * SIGKILL between each pair of steps (after a lease, after a result, after recording the txid,
 * after the broadcast, and with its recorded transaction made unsendable meanwhile). After each
 * restart it carries on; in the end every task is settled exactly once, on chain and in its books.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { broadcastTransaction, deserializeCV, makeSTXTokenTransfer } from '@stacks/transactions';
import { decodeTaskCompleted } from '../../protocol/contracts/index.js';
import { sha256Hex } from '../../protocol/index.js';
import { chainFixture, ESCROW, until, type ChainFixture } from './devnet-fixture.js';
import { TestNode } from './helpers.js';

let fx: ChainFixture;
let dir: string;
let child: { proc: ChildProcess; url: string; exited: Promise<NodeJS.Signals | null> } | null = null;
let node: TestNode;

beforeAll(async () => {
  fx = await chainFixture();
  node = new TestNode('crash-node', [fx.artifactHash]);
  await fx.bond(node.key);
  dir = mkdtempSync(join(tmpdir(), 'signer-crash-'));
  writeFileSync(
    join(dir, 'signer.toml'),
    `[server]\nport = 0\n[database]\npath = "${join(dir, 'signer.db')}"\n[chain]\npoll_interval_ms = 100\n[scheduler]\nsweep_interval_ms = 100\n[submitter]\nbatch_size = 2\nmax_wait_ms = 600000\nconfirm_poll_ms = 100\ndrop_after_ms = 1000\n`,
  );
});
afterAll(async () => {
  if (child) await kill();
  await fx?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts `signer run` as a child process; resolves with its URL once it listens. */
async function start(failpoint?: 'after-record' | 'after-broadcast'): Promise<void> {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', 'signer/cli.ts', 'run', '--config', join(dir, 'signer.toml')],
    {
      env: {
        ...process.env,
        SIGNER_CHAIN_ENABLED: 'true',
        SIGNER_CHAIN_API: fx.devnet.url,
        SIGNER_NETWORK: 'devnet',
        SIGNER_ESCROW: ESCROW,
        SIGNER_PRIVATE_KEY: fx.signerKey,
        SIGNER_LOG_LEVEL: 'warn',
        SIGNER_FAILPOINT: failpoint ?? '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.once('exit', (_code, signal) => resolve(signal)));
  let out = '';
  proc.stderr!.on('data', (d) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /signer listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    exited.then(() => reject(new Error(`signer exited before listening:\n${out}`)));
  });
  child = { proc, url, exited };
}

/** SIGKILL, as a power cut. */
async function kill(): Promise<void> {
  child!.proc.kill('SIGKILL');
  await child!.exited;
  child = null;
}

async function http(method: string, path: string, body?: unknown) {
  const [p, init] = node.request(method, path, body);
  const res = await fetch(child!.url + p, init);
  return { status: res.status, data: res.status === 204 ? null : (((await res.json()) as { data: any }).data as any) };
}
const status = async (id: string) =>
  ((await (await fetch(`${child!.url}/api/v1/tasks/${id}/status`)).json()) as { data: any }).data;
/** Reads the signer's database directly (read-only), as an operator would after a crash. */
function query(sql: string, ...args: unknown[]): unknown[] {
  const db = new Database(join(dir, 'signer.db'), { readonly: true });
  try {
    return db.prepare(sql).all(...args);
  } finally {
    db.close();
  }
}

async function submit(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await fx.submitTask(sha256Hex(`crash-input-${Math.random()}`));
}
async function pullAndComplete(): Promise<string> {
  const pulled = await http('GET', '/api/v1/nodes/crash-node/tasks?wait=10');
  expect(pulled.status).toBe(200);
  const done = await http('POST', '/api/v1/tasks/complete', node.result(pulled.data));
  expect(done.status).toBe(200);
  return pulled.data.task_id;
}

describe('signer killed with SIGKILL between steps', () => {
  it('after a lease and after a result: both survive the restart', async () => {
    await submit(2);
    await start();
    expect((await http('POST', '/api/v1/nodes/register', node.registration())).status).toBe(201);
    await until(
      '2 tasks ingested',
      async () => ((await (await fetch(`${child!.url}/api/v1/stats`)).json()) as { data: any }).data.total_tasks === 2,
    );
    const leased = await http('GET', '/api/v1/nodes/crash-node/tasks?wait=10');
    expect(leased.status).toBe(200);
    await kill();
    await start();
    expect(await status(leased.data.task_id)).toMatchObject({ status: 'in_progress', inference_node_id: 'crash-node' });
    expect((await http('POST', '/api/v1/tasks/complete', node.result(leased.data))).status).toBe(200);
    await kill();
    await start();
    expect(await status(leased.data.task_id)).toMatchObject({ status: 'completed' });
  });

  it('after recording the txid (before broadcast): the same transaction is sent on restart', async () => {
    await kill();
    await start('after-record');
    await http('POST', '/api/v1/nodes/heartbeat', { node_id: 'crash-node', status: 'online' });
    // Completing the second task fills the batch; the submitter records it and dies.
    const pulled = await http('GET', '/api/v1/nodes/crash-node/tasks?wait=10');
    await fetch(
      `${child!.url}/api/v1/tasks/complete`,
      node.request('POST', '/api/v1/tasks/complete', node.result(pulled.data))[1],
    ).catch(() => null);
    expect(await child!.exited).toBe('SIGKILL');
    child = null;
    const recorded = query('select txid, status from settlements') as { txid: string; status: string }[];
    expect(recorded).toEqual([{ txid: expect.any(String), status: 'built' }]);
    await start();
    await until(
      'settled',
      async () => (await status('2')).status === 'settled' && (await status('1')).status === 'settled',
    );
    expect((await status('1')).settlement_txid).toBe(recorded[0].txid);
  });

  it('after the broadcast (before it is marked sent): confirmed on restart, not sent twice', async () => {
    await submit(2);
    await kill();
    await start('after-broadcast');
    await http('POST', '/api/v1/nodes/heartbeat', { node_id: 'crash-node', status: 'online' });
    await until(
      'ingested',
      async () => ((await (await fetch(`${child!.url}/api/v1/stats`)).json()) as { data: any }).data.total_tasks === 4,
    );
    await pullAndComplete();
    const pulled = await http('GET', '/api/v1/nodes/crash-node/tasks?wait=10');
    await fetch(
      `${child!.url}/api/v1/tasks/complete`,
      node.request('POST', '/api/v1/tasks/complete', node.result(pulled.data))[1],
    ).catch(() => null);
    expect(await child!.exited).toBe('SIGKILL');
    child = null;
    await start();
    await until(
      'settled',
      async () => (await status('3')).status === 'settled' && (await status('4')).status === 'settled',
    );
    const txs = query("select status from settlements where kind = 'complete-tasks'");
    expect(txs).toEqual([{ status: 'confirmed' }, { status: 'confirmed' }]);
  });

  it('a recorded transaction whose nonce was used meanwhile is dropped and its tasks batched again', async () => {
    await submit(2);
    await kill();
    await start('after-record');
    await http('POST', '/api/v1/nodes/heartbeat', { node_id: 'crash-node', status: 'online' });
    await until(
      'ingested',
      async () => ((await (await fetch(`${child!.url}/api/v1/stats`)).json()) as { data: any }).data.total_tasks === 6,
    );
    await pullAndComplete();
    const pulled = await http('GET', '/api/v1/nodes/crash-node/tasks?wait=10');
    await fetch(
      `${child!.url}/api/v1/tasks/complete`,
      node.request('POST', '/api/v1/tasks/complete', node.result(pulled.data))[1],
    ).catch(() => null);
    expect(await child!.exited).toBe('SIGKILL');
    child = null;
    const { nonce, txid } = query("select nonce, txid from settlements where status = 'built'")[0] as {
      nonce: string;
      txid: string;
    };
    // The signer's key spends that nonce elsewhere while the signer is down.
    const client = { baseUrl: fx.devnet.url };
    const other = await makeSTXTokenTransfer({
      recipient: 'ST2CY5V39NHDPWSXMW9QDT3HC3GD6Q6XX4CFRK9AG',
      amount: 1n,
      senderKey: fx.signerKey,
      nonce: BigInt(nonce),
      network: 'testnet',
      client,
    });
    await broadcastTransaction({ transaction: other, network: 'testnet', client });
    await fx.devnet.idle();
    await start();
    await until(
      'settled',
      async () => (await status('5')).status === 'settled' && (await status('6')).status === 'settled',
    );
    const dropped = query('select status from settlements where txid = ?', txid)[0] as { status: string };
    expect(dropped.status).toBe('dropped');
    const history = (
      (await (await fetch(`${child!.url}/api/v1/tasks/5/status?history=true`)).json()) as { data: any }
    ).data.history.map((h: { to_status: string }) => h.to_status);
    expect(history).toEqual(['pending', 'in_progress', 'completed', 'submitted', 'completed', 'submitted', 'settled']);
  });

  it('in the end every task is settled exactly once, on chain and in the books', async () => {
    const events = (await (await fetch(`${fx.devnet.url}/extended/v1/contract/${ESCROW}/events?limit=50`)).json()) as {
      results: { contract_log?: { value: { hex: string } } }[];
    };
    const paid = events.results.flatMap((e) => {
      try {
        return [decodeTaskCompleted(deserializeCV(e.contract_log!.value.hex)).taskId];
      } catch {
        return [];
      }
    });
    expect(paid.map(String).sort()).toEqual(['1', '2', '3', '4', '5', '6']);
    for (let id = 1n; id <= 6n; id++) expect((await fx.task(id))?.status).toBe('paid');
    const settledTwice = query(
      "select task_id, count(*) n from task_events where to_status = 'settled' group by task_id having n <> 1",
    );
    expect(settledTwice).toEqual([]);
    expect(query("select count(*) n from inference_tasks where status = 'settled'")).toEqual([{ n: 6 }]);
  });
});
