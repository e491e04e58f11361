/**
 * Attack 4 of issue 12: a signed node request replayed with another recovery byte (or as its
 * high-s twin) must not pass as a new request. Only canonical signatures are accepted (low s,
 * recovery byte 00 or 01) and the replay cache keys on (r, s), so one signature is one request.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NODE_AUTH_HEADERS, canonicalSignatureProblem, signatureReplayKey } from '../../protocol/index.js';
import { ReplayCache } from '../../signer/auth/replay.js';
import { leaseNext } from '../../signer/tasks/index.js';
import { addTasks, body, makeSigner, register, TestNode, type TestSigner } from './helpers.js';

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
/** The same signature with s replaced by n - s (and the recovery byte flipped, as a malleator would). */
const highS = (sig: string) =>
  sig.slice(0, 64) +
  (N - BigInt(`0x${sig.slice(64, 128)}`)).toString(16).padStart(64, '0') +
  (parseInt(sig.slice(128), 16) ^ 1).toString(16).padStart(2, '0');
const withRecovery = (sig: string, v: number) => sig.slice(0, 128) + v.toString(16).padStart(2, '0');

let t: TestSigner;
let node: TestNode;
beforeEach(async () => {
  t = makeSigner();
  node = new TestNode('node-1');
  expect(await register(t, node)).toBe(201);
});
afterEach(() => t.close());

const path = '/api/v1/nodes/heartbeat';
const hb = JSON.stringify({ node_id: 'node-1', status: 'online' });
const send = (headers: Record<string, string>) => t.app.request(path, { method: 'POST', headers, body: hb });

describe('replayed node requests (issue 12, attack 4)', () => {
  it('a request signed once is refused when replayed with each other recovery byte', async () => {
    const headers = node.headers('POST', path, hb);
    const sig = headers[NODE_AUTH_HEADERS.signature];
    expect((await send(headers)).status).toBe(200);
    const original = parseInt(sig.slice(128), 16);
    for (const v of [0, 1, 2, 3].filter((v) => v !== original)) {
      const res = await send({ ...headers, [NODE_AUTH_HEADERS.signature]: withRecovery(sig, v) });
      expect(res.status, `recovery byte ${v}`).toBe(401);
      const b = (await res.json()) as { success: boolean; error: string; code: string };
      expect(b.success).toBe(false);
      // 00/01 are canonical forms of the same (r, s): a replay. 02/03 are refused by their form alone.
      expect(b.code).toBe(v <= 1 ? 'signature_replayed' : 'signature_not_canonical');
      expect(b.error).toMatch(v <= 1 ? /^this signed request was already used/ : /^signature is not canonical/);
    }
  });

  it('a high-s copy is refused, before or after the original is used', async () => {
    const headers = node.headers('POST', path, hb);
    const sig = headers[NODE_AUTH_HEADERS.signature];
    const first = await send({ ...headers, [NODE_AUTH_HEADERS.signature]: highS(sig) });
    expect(first.status).toBe(401);
    expect(await first.json()).toMatchObject({
      success: false,
      data: null,
      code: 'signature_not_canonical',
      error: expect.stringMatching(/^signature is not canonical: s is above n\/2/),
    });
    // Refusing the twin must not burn the original.
    expect((await send(headers)).status).toBe(200);
    const after = await send({ ...headers, [NODE_AUTH_HEADERS.signature]: highS(sig) });
    expect(after.status).toBe(401);
    expect(t.s.replay.size).toBe(2); // the registration and the one heartbeat
  });

  it('task results are accepted only with a canonical signature', async () => {
    const [id] = addTasks(t, {});
    const task = leaseNext(t.s, 'node-1')!;
    expect(task.task_id).toBe(id);
    const result = node.result(task);
    const post = (signature: string) =>
      t.app.request(...node.request('POST', '/api/v1/tasks/complete', { ...result, signature }));
    for (const bad of [withRecovery(result.signature, 2), withRecovery(result.signature, 3), highS(result.signature)]) {
      const res = await post(bad);
      expect(res.status, bad.slice(120)).toBe(401);
    }
    const res = await post(result.signature);
    expect(res.status).toBe(200);
    expect((await body(res)).data.status).toBe('completed');
  });
});

describe('canonical signature helpers', () => {
  it('name what is wrong, and key replays on (r, s) only', () => {
    const sig = `${'ab'.repeat(32) + '11'.repeat(32)}00`;
    expect(canonicalSignatureProblem(sig)).toBeNull();
    expect(canonicalSignatureProblem(withRecovery(sig, 1))).toBeNull();
    expect(canonicalSignatureProblem(withRecovery(sig, 2))).toMatch(/recovery byte/);
    expect(canonicalSignatureProblem(withRecovery(sig, 0x1b))).toMatch(/recovery byte/);
    expect(canonicalSignatureProblem(highS(sig))).toMatch(/s is above n\/2/);
    expect(canonicalSignatureProblem('ab')).toMatch(/65 bytes/);
    expect(signatureReplayKey(withRecovery(sig, 1))).toBe(signatureReplayKey(sig));
    const cache = new ReplayCache(60_000);
    expect(cache.claim(sig, 0, 0)).toBe(true);
    expect(cache.claim(withRecovery(sig, 1), 0, 0)).toBe(false);
    expect(cache.claim(withRecovery(sig, 3), 0, 0)).toBe(false);
  });
});
