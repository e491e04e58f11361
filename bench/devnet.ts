/**
 * `npm run bench:devnet`: how fast the devnet takes signed contract calls, and how long its
 * restart replay takes.
 *
 * 1. Throughput: pre-signs `--txs` (default 2,000) `submit-task` calls from the 10 dev accounts,
 *    then posts them over HTTP (32 in flight) and times until the last one is mined: accepted +
 *    mined per second (goal >= 200/s). Measured twice: a block per transaction (the default) and
 *    `--block-time 200` (every 200 ms, one block with whatever is ready).
 * 2. Replay: tops the log up to `--replay-txs` (default 10,000) transactions, restarts the devnet
 *    on it, and reports the replay time per 10,000 transactions (simnet genesis reported apart).
 * Writes bench/results/devnet.json.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { makeContractCall, PostConditionMode, type StacksTransactionWire } from '@stacks/transactions';
import { startDevnet, type Devnet, type DevAccount } from '../devnet/index.js';
import { deployModelArgs, submitTaskArgs } from '../protocol/contracts/index.js';

const { values } = parseArgs({
  options: { txs: { type: 'string', default: '2000' }, 'replay-txs': { type: 'string', default: '10000' } },
});
const TXS = Number(values.txs);
const REPLAY_TXS = Number(values['replay-txs']);
const ROOT = new URL('..', import.meta.url).pathname;
const DEPLOYER = 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM';
const say = (s: string) => process.stdout.write(`${s}\n`);

async function post(url: string, tx: StacksTransactionWire): Promise<string> {
  const res = await fetch(`${url}/v2/transactions`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: Buffer.from(tx.serializeBytes()),
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`rejected: ${JSON.stringify(body)}`);
  return body as string;
}

/** Signs `count` submit-task calls spread over `accounts`, continuing each account's nonce. */
async function sign(
  accounts: DevAccount[],
  nonces: Map<string, bigint>,
  count: number,
  output: bigint,
): Promise<StacksTransactionWire[]> {
  const txs: StacksTransactionWire[] = [];
  for (let i = 0; i < count; i++) {
    const a = accounts[i % accounts.length];
    const nonce = nonces.get(a.address) ?? 0n;
    nonces.set(a.address, nonce + 1n);
    txs.push(
      await makeContractCall({
        contractAddress: DEPLOYER,
        contractName: 'inference-escrow',
        functionName: 'submit-task',
        functionArgs: submitTaskArgs({
          modelOutput: output,
          inputHash: randomBytes(32).toString('hex'),
          fee: 100,
          maxBlocks: 1000,
          privacy: 0,
          priority: 1,
        }),
        senderKey: a.secretKey!,
        network: 'testnet',
        nonce,
        fee: 3000n,
        postConditionMode: PostConditionMode.Allow,
      }),
    );
  }
  return txs;
}

/** Posts `txs` with `inFlight` concurrent requests, then waits for all to be mined. */
async function send(devnet: Devnet, txs: StacksTransactionWire[], inFlight = 32): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < txs.length) await post(devnet.url, txs[next++]);
    }),
  );
  await devnet.idle();
  return performance.now() - t0;
}

// The machine is shared: the load around the run says how far the figures can be trusted.
const loadAtStart = loadavg()[0];
const dir = mkdtempSync(join(tmpdir(), 'devnet-bench-'));
// A copy of the Clarinet project: a contract edited meanwhile must not break the restart.
const project = mkdtempSync(join(tmpdir(), 'devnet-bench-project-'));
for (const p of ['Clarinet.toml', 'contracts', 'settings'])
  cpSync(`${ROOT}${p}`, join(project, p), { recursive: true });
const MANIFEST = join(project, 'Clarinet.toml');
try {
  const interval = mkdtempSync(join(tmpdir(), 'devnet-bench-interval-'));
  const throughput: Record<string, unknown>[] = [];
  let devnet!: Devnet;
  let nonces!: Map<string, bigint>;
  let accounts!: DevAccount[];
  let output = 0n;
  for (const blockTimeMs of [200, 0]) {
    // The per-transaction run goes last: its log is the one the replay measurement reuses.
    devnet = await startDevnet({ dataDir: blockTimeMs ? interval : dir, blockTimeMs, manifestPath: MANIFEST });
    accounts = devnet.accounts.filter((a) => a.secretKey).slice(0, 10);
    nonces = new Map<string, bigint>();
    const owner = accounts.find((a) => a.name === 'wallet_1')!;
    const deployTx = await makeContractCall({
      contractAddress: DEPLOYER,
      contractName: 'model-registry',
      functionName: 'deploy',
      functionArgs: deployModelArgs({
        model: 'bench',
        artifactHash: randomBytes(32).toString('hex'),
        format: 'onnx',
        price: 100,
        uri: 'https://models.example/bench.onnx',
      }),
      senderKey: owner.secretKey!,
      network: 'testnet',
      nonce: 0,
      fee: 3000n,
    });
    nonces.set(owner.address, 1n);
    await send(devnet, [deployTx], 1);
    output = 1n;
    say(`signing ${TXS} contract calls from ${accounts.length} accounts...`);
    const batch = await sign(accounts, nonces, TXS, output);
    const ms = await send(devnet, batch);
    const perSecond = (TXS / ms) * 1000;
    const mode = blockTimeMs ? `a block every ${blockTimeMs} ms` : 'a block per transaction';
    say(
      `${mode}: accepted and mined ${TXS} signed contract calls in ${ms.toFixed(0)} ms: ${perSecond.toFixed(0)}/s (goal >= 200/s)`,
    );
    throughput.push({
      mode,
      block_time_ms: blockTimeMs,
      signed_contract_calls: TXS,
      in_flight: 32,
      elapsed_ms: Math.round(ms),
      accepted_and_mined_per_second: Math.round(perSecond),
    });
    if (blockTimeMs) await devnet.close();
  }
  rmSync(interval, { recursive: true, force: true });

  const more = Math.max(0, REPLAY_TXS - TXS - 1);
  say(`topping the log up to ${REPLAY_TXS} transactions (${more} more)...`);
  for (let done = 0; done < more; done += 2000)
    await send(devnet, await sign(accounts, nonces, Math.min(2000, more - done), output));
  await devnet.close();

  devnet = await startDevnet({ dataDir: dir, manifestPath: MANIFEST });
  const replay = devnet.replay;
  await devnet.close();
  const per10k = (replay.ms * 10_000) / replay.txs;
  say(
    `replayed ${replay.txs} transactions in ${replay.blocks} blocks in ${replay.ms} ms (after ${replay.genesisMs} ms of simnet genesis): ${per10k.toFixed(0)} ms per 10,000`,
  );

  mkdirSync(`${ROOT}bench/results`, { recursive: true });
  writeFileSync(
    `${ROOT}bench/results/devnet.json`,
    `${JSON.stringify(
      {
        benchmark: 'devnet',
        when: new Date().toISOString(),
        machine: {
          cpus: cpus().length,
          node: process.version,
          load_average_1m: { start: loadAtStart, end: loadavg()[0] },
        },
        goal_per_second: 200,
        throughput,
        replay: {
          transactions: replay.txs,
          blocks: replay.blocks,
          replay_ms: replay.ms,
          simnet_genesis_ms: replay.genesisMs,
          ms_per_10000_transactions: Math.round(per10k),
        },
      },
      null,
      2,
    )}\n`,
  );
  say('wrote bench/results/devnet.json');
} finally {
  rmSync(dir, { recursive: true, force: true });
  rmSync(project, { recursive: true, force: true });
}
