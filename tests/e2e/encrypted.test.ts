/**
 * Encrypted tasks end to end (issue 14), through real processes: devnet, signer, node agents and
 * the `market` CLI. `market submit --privacy encrypted` checks the input in clear before paying,
 * seals it to reserved nodes and settles on chain; its decrypted output is the output of a standard
 * run of the same input; `market result` opens it again from the saved envelope, and refuses
 * without it. A task whose node went away is sealed again to another node, by `market reseal` or
 * by `market submit` while it waits.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, sha256Hex } from '../../protocol/index.js';
import type { SavedEnvelope } from '../../market/sealed.js';
import { ROOT } from '../../scripts/lib/services.js';
import { DEMO_MODEL, type Marketplace } from '../../scripts/lib/marketplace.js';
import { address, key, marketplace } from './helpers.js';

const run = promisify(execFile);
let m: Marketplace;
let input: string;
let dataDir: string;
/** The classifier's output for the example input, from a standard task. */
let expected: unknown;

beforeAll(async () => {
  ({ m, input } = await marketplace());
  dataDir = mkdtempSync(join(tmpdir(), 'market-sealed-e2e-'));
}, 240_000);
afterAll(async () => m?.stop(), 60_000);

type Out = Record<string, unknown> & { output?: unknown; task_id?: string; status?: string };

/** Runs the real CLI; resolves with its last JSON line, or with {code, stderr} when it exits non-zero. */
async function market(
  wallet: string,
  args: string[],
  data = dataDir,
): Promise<{ ok: true; out: Out } | { ok: false; code: number; stderr: string }> {
  const argv = ['--import', 'tsx', 'market/cli.ts', ...args, '--json', '--node', m.devnetUrl, '--signer', m.signerUrl];
  const env = { ...process.env, MARKET_PRIVATE_KEY: key(wallet), MARKET_DATA_DIR: data };
  try {
    const { stdout } = await run(process.execPath, argv, { cwd: ROOT, env });
    return { ok: true, out: JSON.parse(stdout.trim().split('\n').pop()!) as Out };
  } catch (e) {
    const err = e as { code: number; stderr: string };
    return { ok: false, code: err.code, stderr: err.stderr };
  }
}

async function ok(wallet: string, args: string[], data?: string): Promise<Out> {
  const r = await market(wallet, args, data);
  if (!r.ok) throw new Error(`market ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.out;
}

const nonce = async (who: string) =>
  ((await (await fetch(`${m.devnetUrl}/v2/accounts/${address(who)}?proof=0`)).json()) as { nonce: number }).nonce;

describe('encrypted tasks through the market CLI', () => {
  it('checks the input in clear before anything is sealed or paid', async () => {
    const bad = join(dataDir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ inputs: [{ name: 'x', shape: [3], datatype: 'FP32', data: [1, 2, 3] }] }));
    const before = await nonce('wallet_6');
    const r = await market('wallet_6', ['submit', '--model', DEMO_MODEL, '--input', bad, '--privacy', 'encrypted']);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.stderr).toMatch(/input "x": expected shape .*got \[3\].*nothing was sent/);
    expect(existsSync(join(dataDir, 'sealed'))).toBe(false);
    expect(await nonce('wallet_6')).toBe(before);
  }, 60_000);

  it('settles an encrypted task whose decrypted output is the standard run of the same input', async () => {
    const submit = (wallet: string, ...extra: string[]) =>
      ok(wallet, ['submit', '--model', DEMO_MODEL, '--input', input, ...extra]);
    const [standard, encrypted] = await Promise.all([submit('wallet_5'), submit('wallet_6', '--privacy', 'encrypted')]);
    expect([standard.status, encrypted.status]).toEqual(['settled', 'settled']);
    expect(encrypted).toMatchObject({
      privacy: 'encrypted',
      signature_verified: true,
      sealed_signature_verified: true,
    });
    expect(encrypted.output).toEqual(standard.output);
    expected = standard.output;
    expect(encrypted.output_hash).not.toBe(standard.output_hash);

    // The saved envelope (0600) is what the task's input hash commits to.
    const file = String(encrypted.envelope_file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { envelope: unknown; input_hash: string };
    expect(sha256Hex(canonicalJson(saved.envelope))).toBe(encrypted.inputHash);

    // `market result` opens it again from the saved envelope; without it, it refuses with its code.
    const id = String(encrypted.task_id);
    expect((await ok('wallet_6', ['result', id])).output).toEqual(standard.output);
    const elsewhere = await market('wallet_6', ['result', id], mkdtempSync(join(tmpdir(), 'market-empty-')));
    expect(!elsewhere.ok && elsewhere.stderr).toMatch(/\[envelope_missing\]/);
    const stranger = await market('wallet_5', ['result', id]);
    expect(!stranger.ok && stranger.stderr).toMatch(/\[not_requester\]/);
  }, 240_000);

  it('runs a prepaid request sealed the same way: paid, then opened against the leaf paid for', async () => {
    await ok('wallet_8', ['account', 'deposit', '1000000']);
    const paid = await ok('wallet_8', [
      'submit',
      '--prepaid',
      '--model',
      DEMO_MODEL,
      '--input',
      input,
      '--privacy',
      'encrypted',
    ]);
    expect(paid).toMatchObject({ privacy: 'encrypted', output_verified: true });
    expect(paid.output).toEqual(expected);
    const again = await ok('wallet_8', ['result', '--prepaid', String(paid.task_id)]);
    expect(again.output).toEqual(expected);
    // Without the envelope the client cannot open it, and says so rather than blame the signer.
    const elsewhere = await market(
      'wallet_8',
      ['result', '--prepaid', String(paid.task_id)],
      mkdtempSync(join(tmpdir(), 'market-empty-')),
    );
    expect(!elsewhere.ok && elsewhere.stderr).toMatch(/\[envelope_missing\]/);
  }, 240_000);

  it('seals a task again to another node once its node went away (market reseal)', async () => {
    // node-1 dies; until its heartbeats time out the signer still offers it, and the input is sealed to it alone.
    await m.agents[0].kill();
    const submitted = await ok('wallet_7', [
      'submit',
      '--model',
      DEMO_MODEL,
      '--input',
      input,
      '--privacy',
      'encrypted',
      '--no-wait',
    ]);
    expect(submitted.sealed_to).toEqual(['node-1']);
    const id = String(submitted.task_id);
    await m.startAgent('node-2');
    let status: Out = {};
    for (const started = Date.now(); Date.now() - started < 90_000; ) {
      status = await ok('wallet_7', ['status', id]);
      if (status.needs_reseal) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(status).toMatchObject({ needs_reseal: true, sealed_nodes: ['node-1'], signer_status: 'pending' });
    expect((await ok('wallet_7', ['reseal', id])).resealed).toEqual(['node-2']);
    for (const started = Date.now(); Date.now() - started < 90_000; ) {
      status = await ok('wallet_7', ['status', id]);
      if (status.signer_status === 'settled') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(status.signer_status).toBe('settled');
    const result = await ok('wallet_7', ['result', id]);
    expect(result).toMatchObject({ privacy: 'encrypted', node: 'node-2', signature_verified: true });
    expect(result.output).toEqual(expected);
  }, 240_000);

  it('submit --wait seals the task again by itself when its node goes away', async () => {
    await m.agents[1].kill();
    const sealedDir = join(dataDir, 'sealed');
    const before = new Set(readdirSync(sealedDir));
    const waiting = ok('wallet_8', ['submit', '--model', DEMO_MODEL, '--input', input, '--privacy', 'encrypted']);
    let failed: unknown;
    waiting.catch((e) => (failed = e));
    // Once the input is sealed to node-2 (dead, still listed online), another node comes up.
    let sealedTo: string[] = [];
    for (const started = Date.now(); !failed && !sealedTo.length && Date.now() - started < 60_000; ) {
      await new Promise((r) => setTimeout(r, 200));
      const file = readdirSync(sealedDir).find((f) => !before.has(f) && f.endsWith('.json'));
      const saved = file && (JSON.parse(readFileSync(join(sealedDir, file), 'utf8')) as SavedEnvelope);
      sealedTo = saved ? saved.sealed_to.map((n) => n.node_id) : [];
    }
    expect(sealedTo).toEqual(['node-2']);
    await m.startAgent('node-3');
    const done = await waiting;
    expect(done).toMatchObject({ status: 'settled', privacy: 'encrypted', node: 'node-3', signature_verified: true });
    expect(done.output).toEqual(expected);
  }, 240_000);
});
