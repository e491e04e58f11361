/**
 * The signer against the real devnet: tasks submitted on chain are ingested, leased to a node
 * over HTTP, completed with signed results, batched into complete-tasks and settled on chain;
 * a task nobody runs times out and is reclaimed for its user.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { privateKeyToAddress } from '@stacks/transactions';
import { sha256Hex } from '../../protocol/index.js';
import { startSigner, type RunningSigner } from '../../signer/index.js';
import { chainFixture, until, type ChainFixture } from './devnet-fixture.js';
import { keyOf } from '../devnet/helpers.js';
import { TestNode, TestRequester } from './helpers.js';

let fx: ChainFixture;
let signer: RunningSigner;
let dir: string;

beforeAll(async () => {
  fx = await chainFixture();
  dir = mkdtempSync(join(tmpdir(), 'signer-devnet-'));
  signer = await startSigner({
    config: {
      server: { port: 0 },
      database: { path: join(dir, 'signer.db') },
      chain: { poll_interval_ms: 100 },
      scheduler: { sweep_interval_ms: 100, prefer_better_node_ms: 0 },
      submitter: { batch_size: 3, max_wait_ms: 300, confirm_poll_ms: 100, reclaim_for_users: true },
    },
    chain: fx.chain(),
    log: pino({ level: 'silent' }),
  });
});
afterAll(async () => {
  await signer?.close();
  await fx?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

async function http(node: TestNode, method: string, path: string, body?: unknown) {
  const [p, init] = node.request(method, path, body);
  const res = await fetch(signer.url + p, init);
  return {
    status: res.status,
    json: res.status === 204 ? null : ((await res.json()) as { success: boolean; data: any; error: string | null }),
  };
}
const stats = async () => ((await (await fetch(`${signer.url}/api/v1/stats`)).json()) as { data: any }).data;

describe('signer on the devnet', () => {
  it('settles signed results on chain, each task once, and pays the node', async () => {
    const node = new TestNode('devnet-node', [fx.artifactHash]);
    await fx.bond(node.key);
    expect((await http(node, 'POST', '/api/v1/nodes/register', node.registration())).status).toBe(201);
    const requester = new TestRequester(keyOf(fx.devnet, 'wallet_2'));
    const inputs = [0, 1, 2].map((i) =>
      new TextEncoder().encode(JSON.stringify({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [i] }] })),
    );
    for (const bytes of inputs) {
      const hash = sha256Hex(bytes);
      // Signed by wallet_2, which submits the task next (a requester request).
      const path = `/api/v1/inputs/${hash}`;
      expect(
        (await fetch(signer.url + path, { method: 'PUT', body: bytes, headers: requester.headers('PUT', path) }))
          .status,
      ).toBe(201);
      await fx.submitTask(hash);
    }
    await until('3 tasks ingested', async () => (await stats()).total_tasks === 3);
    for (let i = 0; i < 3; i++) {
      const pulled = await http(node, 'GET', '/api/v1/nodes/devnet-node/tasks?wait=5');
      expect(pulled.status).toBe(200);
      const task = pulled.json!.data;
      const input = await fetch(signer.url + task.input_url, { headers: node.headers('GET', task.input_url) });
      expect(sha256Hex(new Uint8Array(await input.arrayBuffer()))).toBe(task.input_hash);
      const done = await http(
        node,
        'POST',
        '/api/v1/tasks/complete',
        node.result(task, { outputs: [{ name: 'y', shape: [1], datatype: 'FP32', data: [i] }] }),
      );
      expect(done.json).toMatchObject({ success: true, data: { status: 'completed' } });
    }
    const s = await until('3 tasks settled', async () => {
      const st = await stats();
      return st.settled_tasks === 3 ? st : null;
    });
    expect(s.settlement.transactions_by_status).toEqual({ confirmed: 1 });
    for (const id of [1n, 2n, 3n]) {
      const onChain = await fx.task(id);
      expect(onChain?.status).toBe('paid');
      expect(onChain?.node).toBe(privateKeyToAddress(node.key, 'testnet'));
      const status = ((await (await fetch(`${signer.url}/api/v1/tasks/${id}/status`)).json()) as { data: any }).data;
      expect(status).toMatchObject({ status: 'settled' });
      expect(status.settlement_txid).toMatch(/^(0x)?[0-9a-f]{64}$/);
    }
  });

  it('a task nobody runs times out at its deadline and the signer reclaims the fee for its user', async () => {
    const hash = sha256Hex('nobody runs me');
    // The shortest deadline the escrow allows (get-config's min-blocks; it refuses anything shorter).
    const minBlocks = await fx.minBlocks();
    await fx.submitTask(hash, minBlocks);
    const id = 4n;
    await until('task ingested', async () => (await stats()).total_tasks === 4);
    expect(await fx.task(id)).toMatchObject({
      status: 'pending',
      requester: privateKeyToAddress(keyOf(fx.devnet, 'wallet_2'), 'testnet'),
    });
    await fx.advance(minBlocks + 1);
    await until('timeout', async () => (await stats()).timeout_tasks === 1);
    const refunded = await until('reclaim confirmed', async () =>
      (await fx.task(id))?.status === 'refunded' ? true : null,
    );
    expect(refunded).toBe(true);
    const status = (
      (await (await fetch(`${signer.url}/api/v1/tasks/${id}/status?history=true`)).json()) as { data: any }
    ).data;
    expect(status.status).toBe('timeout');
    expect(status.history.at(-1).reason).toMatch(/deadline block \d+ reached/);
  });

  it('a second signer settling the same results finds them paid: settled once, never paid twice', async () => {
    // Another coordinator (its own database, same authorized key) sees the same tasks and gets the same results.
    const other = await startSigner({
      config: {
        server: { port: 0 },
        database: { path: join(dir, 'other.db') },
        chain: { poll_interval_ms: 100 },
        scheduler: { sweep_interval_ms: 100, prefer_better_node_ms: 0 },
        submitter: { batch_size: 3, max_wait_ms: 300, confirm_poll_ms: 100 },
      },
      chain: fx.chain(),
      log: pino({ level: 'silent' }),
    });
    try {
      const node = new TestNode('second-node', [fx.artifactHash]);
      await fx.bond(node.key);
      const call = async (method: string, path: string, body?: unknown) => {
        const [p, init] = node.request(method, path, body);
        const res = await fetch(other.url + p, init);
        return res.status === 204 ? null : ((await res.json()) as { data: any }).data;
      };
      await call('POST', '/api/v1/nodes/register', node.registration());
      const otherStats = async () => ((await (await fetch(`${other.url}/api/v1/stats`)).json()) as { data: any }).data;
      await until('ingested, the expired one timed out', async () => (await otherStats()).pending_tasks === 3);
      for (let i = 0; i < 3; i++) {
        const task = await call('GET', '/api/v1/nodes/second-node/tasks?wait=5');
        await call('POST', '/api/v1/tasks/complete', node.result(task));
      }
      await until('settled by the second signer', async () => (await otherStats()).settled_tasks === 3);
      for (const id of [1n, 2n, 3n]) {
        const status = (
          (await (await fetch(`${other.url}/api/v1/tasks/${id}/status?history=true`)).json()) as { data: any }
        ).data;
        expect(status.history.at(-1).reason).toMatch(/already paid on chain/);
        // Still paid to the first node, once.
        expect((await fx.task(id))?.node).not.toBe(privateKeyToAddress(node.key, 'testnet'));
      }
    } finally {
      await other.close();
    }
  });
});
