/**
 * SIGKILL of a devnet child process in the middle of a burst, then a restart on the same log:
 * every transaction confirmed before the kill is confirmed identically after it, every accepted
 * one is mined, and a second (clean) restart replays to exactly the same state.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { burst, deployModel, snapshotProject, DEPLOYER, ESCROW } from './helpers.js';
import { devAccountsFromManifest } from './keys.js';

const dir = mkdtempSync(join(tmpdir(), 'devnet-crash-'));
const manifest = snapshotProject();
const children = new Set<ChildProcess>();

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  rmSync(dirname(manifest), { recursive: true, force: true });
});

/** Starts `devnet/cli.ts` as a child on `port` (0: any) and resolves with its URL once it listens. */
function startChild(port: number): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'devnet/cli.ts', '--port', String(port), '--data-dir', dir, '--manifest', manifest],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.add(child);
  child.once('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    let out = '';
    // As long as the marketplace gives its devnet (scripts/lib/marketplace.ts): genesis is CPU-bound and
    // slow on a loaded machine, with the other suites running beside this one.
    const timer = setTimeout(() => reject(new Error(`devnet child did not start: ${out}`)), 120_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/[\d.:]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], child });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`devnet child exited (${code}): ${out}`)));
  });
}

const json = async (url: string) => (await fetch(url)).json() as Promise<any>;

/** Everything observable about the chain that the burst touched. */
async function chainState(url: string, txids: string[], addresses: string[]) {
  return {
    tip: (await json(`${url}/v2/info`)).stacks_tip_height,
    accounts: await Promise.all(addresses.map((a) => json(`${url}/v2/accounts/${a}`))),
    txs: await Promise.all(txids.map((t) => json(`${url}/extended/v1/tx/${t}`))),
    task: await (
      await fetch(`${url}/v2/contracts/call-read/${DEPLOYER}/inference-escrow/get-config`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sender: DEPLOYER, arguments: [] }),
      })
    ).json(),
  };
}

describe('devnet crash and restart', () => {
  it('keeps every confirmed transaction through a SIGKILL mid-burst', async () => {
    let { url, child } = await startChild(0);
    const port = Number(new URL(url).port);
    const accounts = devAccountsFromManifest();
    const output = await deployModel(
      { url, accounts: accounts.map((a) => ({ ...a, balance: 0n })) },
      'crash-model',
      100,
    );

    const accepted: string[] = [];
    let snapshot: Map<string, any> | null = null;
    let killed!: Promise<void>;
    const perAccount = 30;
    const keys = accounts.slice(0, 10).map((a) => a.secretKey!);
    const run = burst({
      url: () => url,
      keys,
      perAccount,
      modelOutput: output,
      // Calls fail while the devnet is down and replays its log: at a load average of 20 that took over 60 s.
      retryForMs: 150_000,
      onAccepted: (txid) => {
        accepted.push(txid);
        if (accepted.length === 120 && !killed) {
          killed = (async () => {
            const seen = await Promise.all(
              accepted.map(async (t) => [t, await json(`${url}/extended/v1/tx/${t}`)] as const),
            );
            snapshot = new Map(seen.filter(([, t]) => t.tx_status === 'success'));
            child.kill('SIGKILL');
            await new Promise((r) => child.once('exit', r));
            ({ url, child } = await startChild(port));
          })();
        }
      },
    });
    const results = await run;
    await killed;
    // The kill really came mid-burst: some transactions were confirmed, not all had been sent.
    expect(snapshot!.size).toBeGreaterThan(0);
    expect(snapshot!.size).toBeLessThan(10 * perAccount);

    const addresses = accounts.slice(0, 10).map((a) => a.address);
    // Wait until everything accepted is mined.
    for (let i = 0; i < 600; i++) {
      const n = await Promise.all(addresses.map((a) => json(`${url}/extended/v1/address/${a}/nonces`)));
      if (n.every((x) => x.detected_mempool_nonces.length === 0)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const [txid, before] of snapshot!) {
      const after = await json(`${url}/extended/v1/tx/${txid}`);
      expect(after).toEqual(before);
    }
    const all = results.flatMap((r) => r.txids);
    expect(new Set(all).size).toBe(10 * perAccount);
    for (const r of results) expect(new Set(r.nonces).size).toBe(perAccount);
    const statuses = await Promise.all(all.map(async (t) => (await json(`${url}/extended/v1/tx/${t}`)).tx_status));
    expect(statuses.every((s) => s === 'success')).toBe(true);
    const events = await json(`${url}/extended/v1/contract/${ESCROW}/events?limit=1`);
    expect(events.results[0].contract_log.value.repr).toContain(`(task-id u${10 * perAccount})`);

    // A clean restart replays the same log to the same state.
    const state = await chainState(url, all, addresses);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    ({ url, child } = await startChild(port));
    expect(await chainState(url, all, addresses)).toEqual(state);
    child.kill('SIGTERM');
  }, 300_000);
});
