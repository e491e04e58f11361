/**
 * Nodes with something to lose, on the signer's side, against the real devnet: a key without an
 * active bond in the escrow is not registered (issue 12, attack 1: anyone could be a node and be
 * paid), and a node whose bond stops being active (unbonding) gets no more tasks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { nodeKeyArgs } from '../../protocol/contracts/index.js';
import { sha256Hex } from '../../protocol/index.js';
import { startSigner, type RunningSigner } from '../../signer/index.js';
import { call, ESCROW } from '../devnet/helpers.js';
import { chainFixture, until, type ChainFixture } from './devnet-fixture.js';
import { testDatabaseLocation, TestNode } from './helpers.js';

let fx: ChainFixture;
let signer: RunningSigner;
let dir: string;

beforeAll(async () => {
  fx = await chainFixture();
  dir = mkdtempSync(join(tmpdir(), 'signer-bonds-'));
  signer = await startSigner({
    config: {
      server: { port: 0 },
      database: { path: testDatabaseLocation(dir) },
      chain: { poll_interval_ms: 100, bond_check_interval_ms: 200 },
      scheduler: { sweep_interval_ms: 100, prefer_better_node_ms: 0 },
      submitter: { max_wait_ms: 600_000 },
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
    json:
      res.status === 204
        ? null
        : ((await res.json()) as { success: boolean; data: any; error: string | null; code?: string }),
  };
}
const register = (node: TestNode) => http(node, 'POST', '/api/v1/nodes/register', node.registration());
const stats = async () => ((await (await fetch(`${signer.url}/api/v1/stats`)).json()) as { data: any }).data;

describe('node bonds', () => {
  it('refuses to register a key without a bond, saying how to bond', async () => {
    const node = new TestNode('unbonded', [fx.artifactHash]);
    const res = await register(node);
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ success: false, code: 'node_not_bonded' });
    expect(res.json!.error).toContain(node.publicKey);
    expect(res.json!.error).toMatch(/bond at least 1000000 micro-STX .*node-agent bond/);
  });

  it('registers a bonded key and reports its stake', async () => {
    const node = new TestNode('bonded', [fx.artifactHash]);
    const bond = await fx.bond(node.key, 3_000_000n);
    expect(bond).toMatchObject({ status: 'active', stake: 3_000_000n });
    const res = await register(node);
    expect(res.status).toBe(201);
    expect(res.json!.data).toMatchObject({ node_id: 'bonded', stake: '3000000', bond_status: 'active' });
  });

  it('an unbonding node gets no task, and is told why when it registers again; a bonded one gets it', async () => {
    const leaving = new TestNode('leaving', [fx.artifactHash]);
    await fx.bond(leaving.key);
    expect((await register(leaving)).status).toBe(201);
    const unbond = await call(fx.devnet, leaving.key, ESCROW, 'unbond-node', nodeKeyArgs(leaving.publicKey));
    expect('reason' in unbond.res).toBe(false);
    await fx.devnet.idle();
    const before = (await stats()).total_tasks as number;
    await fx.submitTask(sha256Hex(`bonds-${Date.now()}`));
    await until('task ingested', async () => (await stats()).total_tasks === before + 1);
    // The bond is re-read every 200 ms: after that, the node is not scheduled.
    await new Promise((r) => setTimeout(r, 600));
    expect((await http(leaving, 'GET', '/api/v1/nodes/leaving/tasks?wait=1')).status).toBe(204);
    const again = await register(leaving);
    expect(again.status).toBe(403);
    expect(again.json!.error).toMatch(/is unbonding .*node-agent withdraw/);
    // The 'bonded' node of the test above takes it.
    const bonded = new TestNode('bonded-2', [fx.artifactHash]);
    await fx.bond(bonded.key);
    expect((await register(bonded)).status).toBe(201);
    const pulled = await http(bonded, 'GET', '/api/v1/nodes/bonded-2/tasks?wait=5');
    expect(pulled.status).toBe(200);
  });
});
