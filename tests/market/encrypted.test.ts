/**
 * The requester's side of encrypted tasks without a network (issue 14): the envelope kept under the
 * data directory (mode 0600, checked against the input hash when read back), and an encrypted
 * result opened with real keys and real ciphertexts (sealTo, signSealedOutput, signTaskResult as a
 * node makes them): every way it can be wrong is refused with its stable code. And a prepaid
 * submit refuses --privacy federated (several nodes are its --security) before sending anything.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { compressPublicKey, privateKeyToPublic, randomPrivateKey } from '@stacks/transactions';
import {
  buildEnvelope,
  canonicalJson,
  CHAIN_ID,
  outputCommitment,
  sealTo,
  sha256Hex,
  signSealedOutput,
  signTaskResult,
} from '../../protocol/index.js';
import {
  envelopePath,
  loadEnvelope,
  openSealedResult,
  saveEnvelope,
  SealedResultError,
  type SavedEnvelope,
} from '../../market/sealed.js';
import type { TaskResultView } from '../../market/signer-client.js';
import { nodesFor, reseal, resealNeeded } from '../../market/commands/encrypted.js';
import type { Context } from '../../market/context.js';
import type { ChainTask } from '../../protocol/index.js';
import { ROOT } from '../../scripts/lib/services.js';

const run = promisify(execFile);

const dir = mkdtempSync(join(tmpdir(), 'market-sealed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const keyPair = () => {
  const privateKey = randomPrivateKey();
  return { privateKey, publicKey: compressPublicKey(privateKeyToPublic(privateKey)) };
};
const requester = keyPair();
const node = keyPair();
const escrow = 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.inference-escrow';
const chainId = CHAIN_ID.testnet;
const taskId = 42n;
const input = new TextEncoder().encode('{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[0.5]}]}');

/** What `market submit --privacy encrypted` saves for an input. */
function saved(): SavedEnvelope & { bytes: Uint8Array } {
  const { envelope, bytes, inputHash } = buildEnvelope(input, { replyTo: requester.publicKey });
  return { input_hash: inputHash, model: 'm', envelope, sealed_to: [], created_at: 1, bytes };
}

const codeOf = async (p: Promise<unknown> | (() => unknown)) => {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return err instanceof SealedResultError ? err.code : `not a SealedResultError: ${(err as Error).message}`;
  }
  return 'no error';
};

describe('the saved envelope', () => {
  it('is written as <data>/sealed/<input hash>.json with mode 0600 and read back checked', () => {
    const s = saved();
    const { bytes: _bytes, ...record } = s;
    const file = saveEnvelope(dir, record);
    expect(file).toBe(envelopePath(dir, s.input_hash));
    expect(file).toBe(join(dir, 'sealed', `${s.input_hash}.json`));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'sealed')).mode & 0o077).toBe(0);
    const back = loadEnvelope(dir, s.input_hash);
    expect(back.envelope).toEqual(s.envelope);
    expect(Buffer.from(back.bytes).equals(Buffer.from(s.bytes))).toBe(true);
    // Saved again (the nodes it was sealed to), it stays 0600.
    saveEnvelope(dir, {
      ...record,
      sealed_to: [{ node_id: 'node-1', public_key: node.publicKey, reservation_id: 'r' }],
    });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(loadEnvelope(dir, s.input_hash).sealed_to.map((n) => n.node_id)).toEqual(['node-1']);
  });

  it('is envelope_missing when absent and envelope_invalid when altered or not JSON', async () => {
    expect(await codeOf(() => loadEnvelope(dir, 'ab'.repeat(32)))).toBe('envelope_missing');
    const s = saved();
    const file = saveEnvelope(dir, { ...s, bytes: undefined } as unknown as SavedEnvelope);
    const record = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify({ ...record, envelope: { ...record.envelope, input: 'e30=' } }));
    expect(await codeOf(() => loadEnvelope(dir, s.input_hash))).toBe('envelope_invalid');
    writeFileSync(file, 'not json');
    expect(await codeOf(() => loadEnvelope(dir, s.input_hash))).toBe('envelope_invalid');
  });
});

/** A result as the signer serves an encrypted task's, made as the node makes it; `tweak` changes one step. */
async function nodeResult(
  s: SavedEnvelope & { bytes: Uint8Array },
  tweak: { outputJson?: string; committedJson?: string; replyTo?: string; sealedSigner?: string } = {},
): Promise<TaskResultView> {
  const J = tweak.outputJson ?? canonicalJson({ outputs: [{ name: 'y', shape: [1], datatype: 'FP32', data: [0.25] }] });
  const outputHash = outputCommitment(s.envelope.salt, tweak.committedJson ?? J);
  const sealed = await sealTo(tweak.replyTo ?? s.envelope.reply_to, new TextEncoder().encode(J));
  return {
    task_id: String(taskId),
    status: 'settled',
    output: JSON.parse(new TextDecoder().decode(sealed)),
    output_hash: outputHash,
    confidence: null,
    inference_node_id: 'node-1',
    node_public_key: node.publicKey,
    signature: signTaskResult({ escrow, taskId, inputHash: s.input_hash, outputHash }, chainId, node.privateKey),
    completed_at: 1,
    settlement_txid: null,
    sealed_signature: signSealedOutput(
      { escrow, taskId, outputHash, sealedHash: sha256Hex(sealed) },
      chainId,
      tweak.sealedSigner ?? node.privateKey,
    ),
  };
}

const open = (s: SavedEnvelope, r: TaskResultView, settledOutputHash: string | null = r.output_hash) =>
  openSealedResult(r, {
    escrow,
    chainId,
    taskId,
    inputHash: s.input_hash,
    settledOutputHash,
    envelope: s.envelope,
    privateKey: requester.privateKey,
  });

describe('an encrypted result, opened by the requester', () => {
  it('decrypts to the output the node committed to and the chain settled', async () => {
    const s = saved();
    const { output, outputJson } = await open(s, await nodeResult(s));
    expect(output).toEqual({ outputs: [{ name: 'y', shape: [1], datatype: 'FP32', data: [0.25] }] });
    expect(outputCommitment(s.envelope.salt, outputJson)).toBe((await nodeResult(s)).output_hash);
  });

  it('refuses a sealed output without, or with a wrong, node signature: sealed_output_invalid', async () => {
    const s = saved();
    const r = await nodeResult(s);
    expect(await codeOf(open(s, { ...r, sealed_signature: null }))).toBe('sealed_output_invalid');
    expect(await codeOf(open(s, await nodeResult(s, { sealedSigner: keyPair().privateKey })))).toBe(
      'sealed_output_invalid',
    );
    expect(await codeOf(open(s, { ...r, output: { y: 1 } }))).toBe('sealed_output_invalid');
    // One ciphertext byte flipped by whoever relayed it: the node's signature no longer covers it.
    const c = r.output as { cipherText: string };
    const flipped = Buffer.from(c.cipherText, 'base64');
    flipped[0] ^= 1;
    expect(await codeOf(open(s, { ...r, output: { ...c, cipherText: flipped.toString('base64') } }))).toBe(
      'sealed_output_invalid',
    );
  });

  it('refuses a result signature that does not verify: signature_invalid', async () => {
    const s = saved();
    const r = await nodeResult(s);
    const other = await nodeResult(saved());
    expect(await codeOf(open(s, { ...r, signature: other.signature }))).toBe('signature_invalid');
  });

  it('refuses an output sealed to another key than the wallet: ciphertext_invalid', async () => {
    const s = saved();
    expect(await codeOf(open(s, await nodeResult(s, { replyTo: keyPair().publicKey })))).toBe('ciphertext_invalid');
  });

  it('refuses an output that does not commit to the signed or the settled output hash: output_mismatch', async () => {
    const s = saved();
    expect(await codeOf(open(s, await nodeResult(s, { committedJson: '{"outputs":[]}' })))).toBe('output_mismatch');
    const r = await nodeResult(s);
    expect(await codeOf(open(s, r, 'cd'.repeat(32)))).toBe('output_mismatch');
    // Before settlement is read from the chain (null), the node's signed hash is what it is checked against.
    expect((await open(s, r, null)).output).toBeTruthy();
  });
});

describe('sealing to nodes', () => {
  it('seals to 2 nodes at security 1 (a spot check needs a second), else to the level', () => {
    expect([1, 3, 5].map(nodesFor)).toEqual([2, 3, 5]);
  });

  it("reads needs_reseal and sealed_nodes from the signer's status", () => {
    expect(resealNeeded({ status: 'pending', needs_reseal: true, sealed_nodes: ['node-1', 'node-2'] })).toEqual([
      'node-1',
      'node-2',
    ]);
    expect(resealNeeded({ status: 'pending', needs_reseal: false, sealed_nodes: ['node-1'] })).toBeNull();
    expect(resealNeeded({ status: 'pending' })).toBeNull();
    expect(resealNeeded(null)).toBeNull();
  });
});

describe('market reseal', () => {
  it('says a task paid or refunded on chain has nothing to reseal, without asking the signer', async () => {
    const shown: string[] = [];
    for (const status of ['paid', 'refunded'] as const) {
      const task = { status, privacy: 1, requester: 'ST1REQUESTER', inputHash: 'ab'.repeat(32), security: 1 };
      const ctx = {
        chain: { task: async () => task as unknown as ChainTask },
        wallet: () => ({ address: 'ST1REQUESTER' }),
        signer: {
          // A signer whose node list no longer names the task's nodes would otherwise say "online" or "gone".
          status: async () => ({ status: 'settled' }),
        },
        out: { result: (_json: unknown, lines: string[]) => shown.push(...lines), done: () => {} },
      } as unknown as Context;
      await reseal(ctx, 3n);
    }
    expect(shown).toEqual([
      'task 3 is already paid on chain: nothing to reseal',
      'task 3 is already refunded on chain: nothing to reseal',
    ]);
  });
});

describe('market submit --prepaid', () => {
  it('refuses --privacy federated before sending anything', async () => {
    const file = join(dir, 'input.json');
    writeFileSync(file, input);
    const args = ['--import', 'tsx', 'market/cli.ts', 'submit', '--prepaid', '--privacy', 'federated'];
    const flags = ['--model', 'm', '--input', file, '--node', 'http://127.0.0.1:9', '--signer', 'http://127.0.0.1:9'];
    const r = await run(process.execPath, [...args, ...flags], {
      cwd: ROOT,
      env: { ...process.env, MARKET_PRIVATE_KEY: requester.privateKey },
    }).catch((e: { code: number; stderr: string }) => e);
    expect('code' in r && r.code).toBe(1);
    expect((r as { stderr: string }).stderr).toMatch(/--privacy federated is for on-chain tasks.*nothing was sent/);
  }, 30_000);
});
