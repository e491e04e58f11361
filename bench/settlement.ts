/**
 * `npm run bench:settlement`: what settling a batch of signed results costs on chain.
 *
 * For batch sizes 1, 10, 50, 100, 200, runs `complete-tasks` in simnet with cost tracking and
 * reports, per settled task: Clarity runtime, read/write counts and lengths, and the bytes of the
 * real signed `makeContractCall` transaction that carries the batch; plus the share of one
 * block's budget the batch uses and the largest batch that fits (from simnet's limits).
 *
 * Scenarios: all items by one node (payouts folded into one transfer per payee), every item by
 * a different node, the one-node batch through `complete-tasks-packed`, and the same batch on a variant of the escrow that transfers per item
 * (its `pay-run` swapped for three immediate transfers) to measure what the folding saves.
 * Writes bench/results/settlement.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { initSimnet } from '@stacks/clarinet-sdk';
import { makeContractCall, privateKeyToPublic, compressPublicKey, getAddressFromPrivateKey, type ClarityValue } from '@stacks/transactions';
import { completeTasksArgs, completeTasksPackedArgs, deployModelArgs, submitTaskArgs, decodeCompleteResults, type CompleteTaskItem } from '../protocol/contracts/index.js';
import { signTaskResult, CHAIN_ID } from '../protocol/sip018/index.js';
import { sha256Hex } from '../protocol/hash/index.js';

const ROOT = new URL('..', import.meta.url).pathname;
const SIZES = [1, 10, 50, 100, 200];
// Clarinet's public devnet deployer key (settings/Devnet.toml): signs the measured transactions.
const DEPLOYER_KEY = '753b7cc01a1a2e86221266a154af739463fce51219d97e4f856cd7200c3bd2a601';
const DEPLOYER = getAddressFromPrivateKey(DEPLOYER_KEY, 'testnet');

type Cost = { runtime: number; readCount: number; readLength: number; writeCount: number; writeLength: number };
const DIMS: (keyof Cost)[] = ['runtime', 'readCount', 'readLength', 'writeCount', 'writeLength'];

// simnet echoes every print event through console.log; keep the report readable
const say = (s: string) => process.stdout.write(`${s}\n`);
console.log = () => {};

const simnet = await initSimnet(`${ROOT}Clarinet.toml`, true, { trackCosts: true, trackCoverage: false });
const wallets = [...simnet.getAccounts().entries()].filter(([n]) => n.startsWith('wallet_')).map(([, a]) => a);

/** The escrow with three transfers per item instead of one per run of a payee (its `pay-run` swapped). */
function directVariant(): string {
  const src = readFileSync(`${ROOT}contracts/inference-escrow.clar`, 'utf8');
  const start = src.indexOf('(define-private (pay-run');
  const end = src.indexOf('(define-private (item-result');
  if (start < 0 || end < 0) throw new Error('inference-escrow.clar changed: cannot find pay-run to swap');
  const direct = `(define-private (pay-run
    (settled (response { node: principal, node-cut: uint, owner: principal, owner-cut: uint, treasury-cut: uint } uint))
    (acc { node: principal, node-amount: uint, owner: principal, owner-amount: uint, treasury-amount: uint, paid: uint, ok: bool }))
  (match settled
    s (merge acc {
        paid: (+ (get paid acc) (get node-cut s) (get owner-cut s) (get treasury-cut s)),
        ok: (and (get ok acc) (pay-out (get node s) (get node-cut s)) (pay-out (get owner s) (get owner-cut s))
          (pay-out (var-get treasury) (get treasury-cut s))),
      })
    code acc))

`;
  return src.slice(0, start) + direct + src.slice(end);
}
const deployed = simnet.deployContract('inference-escrow-direct', directVariant(), { clarityVersion: 3 }, DEPLOYER);
if (deployed.result.type !== 'ok' && deployed.result.type !== 'true') throw new Error(`could not deploy the per-item-transfer variant: ${JSON.stringify(deployed.result)}`);

const model = simnet.callPublicFn(`${DEPLOYER}.model-registry`, 'deploy', deployModelArgs({ model: 'bench', artifactHash: sha256Hex('bench'), format: 'onnx', price: 1n, uri: '' }), wallets[0]);
const outputId = (model.result as { value: { value: bigint } }).value.value;
const nodeKeys = Array.from({ length: 200 }, (_, i) => sha256Hex(`bench-node-${i}`) + '01');
const nodePubs = nodeKeys.map((k) => compressPublicKey(privateKeyToPublic(k)));

/** Submits n tasks to `escrow` and returns signed results for them. */
function signedBatch(escrow: string, n: number, distinctNodes: boolean): CompleteTaskItem[] {
  const items: CompleteTaskItem[] = [];
  for (let i = 0; i < n; i++) {
    const inputHash = sha256Hex(`${escrow}-${simnet.blockHeight}-${i}`);
    const r = simnet.callPublicFn(escrow, 'submit-task', submitTaskArgs({ modelOutput: outputId, inputHash, fee: 10_000n, maxBlocks: 1000, privacy: 0, priority: 0 }), wallets[1 + (i % 4)]);
    if (r.result.type !== 'ok') throw new Error(`submit-task failed: ${JSON.stringify(r.result)}`);
    const taskId = BigInt((r.result as { value: { value: bigint } }).value.value);
    const k = distinctNodes ? i : 0;
    const outputHash = sha256Hex(`out-${taskId}`);
    items.push({ taskId, outputHash, nodePublicKey: nodePubs[k], signature: signTaskResult({ escrow, taskId, inputHash, outputHash }, CHAIN_ID.testnet, nodeKeys[k]) });
  }
  return items;
}

async function txBytes(escrow: string, functionName: string, args: ClarityValue[]): Promise<number> {
  const [contractAddress, contractName] = escrow.split('.');
  const tx = await makeContractCall({
    contractAddress, contractName, functionName, functionArgs: args, senderKey: DEPLOYER_KEY,
    network: 'testnet', fee: 10_000n, nonce: 0n, validateWithAbi: false, postConditionMode: 'allow',
  });
  return tx.serialize().length / 2;
}

interface Row { batch: number; total: Cost; perTask: Cost; txBytes: number; txBytesPerTask: number; blockShare: Cost }
let limit: Cost | undefined;

async function measure(escrow: string, n: number, distinctNodes: boolean, packed: boolean): Promise<Row> {
  const items = signedBatch(escrow, n, distinctNodes);
  const fn = packed ? 'complete-tasks-packed' : 'complete-tasks';
  const args = packed ? completeTasksPackedArgs(items) : completeTasksArgs(items);
  const r = simnet.callPublicFn(escrow, fn, args, DEPLOYER);
  const results = decodeCompleteResults(r.result);
  if (results.length !== n || !results.every((x) => x.ok)) throw new Error(`batch of ${n} did not settle: ${JSON.stringify(results.find((x) => !x.ok))}`);
  if (!r.costs) throw new Error('simnet did not report costs (trackCosts)');
  limit = r.costs.limit;
  const total = r.costs.total;
  const bytes = await txBytes(escrow, fn, args);
  const per = (c: Cost, d: number) => Object.fromEntries(DIMS.map((k) => [k, Math.round((c[k] / d) * 10) / 10])) as Cost;
  const share = Object.fromEntries(DIMS.map((k) => [k, Math.round((total[k] / r.costs!.limit[k]) * 10_000) / 10_000])) as Cost;
  return { batch: n, total, perTask: per(total, n), txBytes: bytes, txBytesPerTask: Math.round((bytes / n) * 10) / 10, blockShare: share };
}

/** Largest batch whose cost fits the block budget, extrapolated linearly from sizes 100 and 200. */
function maxBatch(rows: Row[]): { batch: number; boundBy: keyof Cost } {
  const a = rows.find((r) => r.batch === 100)!;
  const b = rows.find((r) => r.batch === 200)!;
  let best = { batch: Infinity, boundBy: 'runtime' as keyof Cost };
  for (const k of DIMS) {
    const marginal = (b.total[k] - a.total[k]) / 100;
    const fixed = a.total[k] - marginal * 100;
    const fit = marginal > 0 ? Math.floor((limit![k] - fixed) / marginal) : Infinity;
    if (fit < best.batch) best = { batch: fit, boundBy: k };
  }
  return best;
}

const scenarios = {
  'one node, one transfer per payee': { escrow: `${DEPLOYER}.inference-escrow`, distinct: false, packed: false },
  'distinct nodes, one transfer per payee': { escrow: `${DEPLOYER}.inference-escrow`, distinct: true, packed: false },
  'one node, packed items (complete-tasks-packed)': { escrow: `${DEPLOYER}.inference-escrow`, distinct: false, packed: true },
  'one node, transfer per item (variant)': { escrow: `${DEPLOYER}.inference-escrow-direct`, distinct: false, packed: false },
};
const out: Record<string, { rows: Row[]; maxBatchInBlock: { batch: number; boundBy: keyof Cost }; listLimit: number }> = {};
for (const [name, s] of Object.entries(scenarios)) {
  const rows: Row[] = [];
  for (const n of SIZES) rows.push(await measure(s.escrow, n, s.distinct, s.packed));
  out[name] = { rows, maxBatchInBlock: maxBatch(rows), listLimit: 200 };
}

/** Per-task bytes and runtime at batch 100 as a fraction of batch 1 (the goal: each <= 0.5). */
function ratios(rows: Row[]) {
  const b1 = rows.find((r) => r.batch === 1)!;
  const b100 = rows.find((r) => r.batch === 100)!;
  const bytes = Math.round((b100.txBytesPerTask / b1.txBytesPerTask) * 1000) / 1000;
  const runtime = Math.round((b100.perTask.runtime / b1.perTask.runtime) * 1000) / 1000;
  return { bytesPerTaskRatio: bytes, runtimePerTaskRatio: runtime, met: bytes <= 0.5 && runtime <= 0.5 };
}
const goal = {
  target: 'per-task bytes and runtime at batch 100 each <= 0.5 of batch 1',
  'complete-tasks': ratios(out['one node, one transfer per payee'].rows),
  'complete-tasks-packed': ratios(out['one node, packed items (complete-tasks-packed)'].rows),
};
const report = {
  generatedAt: new Date().toISOString(),
  tool: '@stacks/clarinet-sdk simnet cost tracking (Clarity 3, epoch 3.1); tx bytes from @stacks/transactions makeContractCall',
  blockLimit: limit,
  scenarios: out,
  goal,
};
mkdirSync(`${ROOT}bench/results`, { recursive: true });
writeFileSync(`${ROOT}bench/results/settlement.json`, JSON.stringify(report, null, 2));

for (const [name, s] of Object.entries(out)) {
  say(`\n${name}  (largest batch within one block's budget: ${s.maxBatchInBlock.batch}, bound by ${s.maxBatchInBlock.boundBy}; list limit 200)`);
  say('| batch | runtime/task | reads/task | writes/task | write bytes/task | tx bytes/task | block runtime share |');
  say('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of s.rows) {
    say(`| ${r.batch} | ${r.perTask.runtime} | ${r.perTask.readCount} | ${r.perTask.writeCount} | ${r.perTask.writeLength} | ${r.txBytesPerTask} | ${(r.blockShare.runtime * 100).toFixed(2)}% |`);
  }
}
for (const fn of ['complete-tasks', 'complete-tasks-packed'] as const) {
  say(`\n${fn}: batch 100 vs batch 1, per task: bytes ${goal[fn].bytesPerTaskRatio}, runtime ${goal[fn].runtimePerTaskRatio} (goal <= 0.5 each: ${goal[fn].met ? 'met' : 'missed'})`);
}
say(`wrote bench/results/settlement.json`);
