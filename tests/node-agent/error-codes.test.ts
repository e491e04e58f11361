/**
 * The agent reacts to the signer's error codes (protocol/errors), not to its messages: against the
 * real signer (in-process, SQLite in a temp folder, loopback HTTP), a signer that forgot the node
 * answers node_not_registered and the agent registers again; a node marked offline answers
 * node_offline and the agent heartbeats itself back online.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { compressPublicKey, privateKeyToPublic, randomPrivateKey } from '@stacks/transactions';
import { Agent, SignerClient, SignerError } from '../../node-agent/index.js';
import type { TaskContext } from '../../node-agent/loop/index.js';
import { startSigner, type RunningSigner } from '../../signer/index.js';
import { getNode, markSilentNodesOffline } from '../../signer/nodes/index.js';

const silent = pino({ level: 'silent' });
let dir: string;
let signer: RunningSigner;
let agent: Agent;
const key = randomPrivateKey();

const client = (nodeId: string) =>
  new SignerClient({ baseUrl: signer.url, nodeId, privateKey: key, chainId: signer.services.chainId, timeoutMs: 5000 });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'agent-codes-'));
  signer = await startSigner({
    config: {
      server: { host: '127.0.0.1', port: 0, max_wait_seconds: 5 },
      database: { path: join(dir, 'signer.db') },
      log: { level: 'silent' },
    },
    chain: null,
    log: silent,
  });
  agent = new Agent(
    {
      client: client('codes-node'),
      registration: () => ({
        node_id: 'codes-node',
        endpoint: '',
        public_key: compressPublicKey(privateKeyToPublic(key)),
        supported_models: [],
        performance_score: 1,
      }),
      // No task is ever queued for this node (it serves no model): the loop never computes.
      task: {} as TaskContext,
      degraded: () => false,
      log: silent,
    },
    // Heartbeats far apart, so that only the reaction to a code can bring the node back in time.
    { pullWaitS: 1, heartbeatIntervalMs: 600_000, backoffBaseMs: 20, backoffMaxMs: 100, maxInFlight: 1 },
  );
  agent.start();
  for (const end = Date.now() + 10_000; !agent.registered && Date.now() < end; )
    await new Promise((r) => setTimeout(r, 20));
});

afterAll(async () => {
  await agent?.stop(100);
  await signer?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the agent switches on error codes', () => {
  it('a refusal exposes its code', async () => {
    const err = await client('nobody')
      .heartbeat('online')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SignerError);
    expect(err).toMatchObject({ status: 404, code: 'node_not_registered', retryable: false });
  });

  it('registers again on node_not_registered (the signer lost its row)', async () => {
    signer.services.store.sqlite.prepare('delete from inference_nodes where node_id = ?').run('codes-node');
    expect(getNode(signer.services.store, 'codes-node')).toBeUndefined();
    await expect
      .poll(() => getNode(signer.services.store, 'codes-node')?.status, { timeout: 10_000, interval: 50 })
      .toBe('online');
  });

  it('heartbeats back online on node_offline', async () => {
    markSilentNodesOffline(signer.services.store, Date.now() + 1, Date.now());
    expect(getNode(signer.services.store, 'codes-node')?.status).toBe('offline');
    await expect
      .poll(() => getNode(signer.services.store, 'codes-node')?.status, { timeout: 10_000, interval: 50 })
      .toBe('online');
  });
});
