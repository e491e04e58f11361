/**
 * How many tasks the agent's long-polls ask for: half its in-flight room per pull (a signed request
 * per pull is the cost), not a 1/pull_concurrency share, and all of it with one pull loop.
 */
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { Agent, type SignerClient } from '../../node-agent/index.js';
import type { TaskContext } from '../../node-agent/loop/index.js';

/** A signer stand-in that records each pull's `max` and answers it with no task after a moment. */
function recordingClient(maxes: number[]): SignerClient {
  const client = {
    register: async () => ({}),
    heartbeat: async () => ({}),
    pullMany: async (max: number) => {
      maxes.push(max);
      await new Promise((r) => setTimeout(r, 20));
      return [];
    },
    completeBatch: async () => [],
  };
  return client as unknown as SignerClient;
}

async function pulls(maxInFlight: number, pullConcurrency: number): Promise<number[]> {
  const maxes: number[] = [];
  const agent = new Agent(
    {
      client: recordingClient(maxes),
      registration: () => ({ node_id: 'n', endpoint: '', public_key: '', supported_models: [] }) as never,
      task: {} as TaskContext,
      degraded: () => false,
      log: pino({ level: 'silent' }),
    },
    { pullWaitS: 1, heartbeatIntervalMs: 60_000, backoffBaseMs: 10, backoffMaxMs: 10, maxInFlight, pullConcurrency },
  );
  agent.start();
  await expect.poll(() => maxes.length).toBeGreaterThanOrEqual(pullConcurrency);
  await agent.stop(0);
  return maxes;
}

describe('pull size', () => {
  it('asks for half the in-flight room per pull with several pull loops', async () => {
    expect(new Set(await pulls(32, 4))).toEqual(new Set([16]));
  });

  it('asks for all of it with one pull loop', async () => {
    expect(new Set(await pulls(32, 1))).toEqual(new Set([32]));
  });
});
