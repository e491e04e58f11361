/**
 * `npm run bench:settlement`: what settling signed results costs on chain.
 *
 * Level-1 tasks (`complete-tasks`): for batch sizes 1, 10, 50, 100, 200, runs the call in simnet
 * with cost tracking and reports, per settled task: Clarity runtime, read/write counts and
 * lengths, and the bytes of the real signed `makeContractCall` transaction that carries the
 * batch; plus the share of one block's budget the batch uses and the largest batch that fits
 * (from simnet's limits). Scenarios: all items by one node (payouts folded into one transfer per
 * payee), every item by a different node, and the same batch on a variant of the escrow that
 * transfers per item (its `pay-run` swapped for immediate transfers) to measure what the folding saves.
 *
 * Tasks several nodes ran (`settle-redundant`, batch sizes 1, 5, 10, 20): a level-3 task with 3
 * agreeing results, a disputed level-3 task (2 against 1: the one slashed, its stake split), and
 * a spot-checked level-1 task (2 agreeing results). And the node registry's calls: bond-node
 * (a new key and a top-up), unbond-node, withdraw-stake.
 *
 * Every node key is bonded first (only bonded keys are paid). Writes bench/results/settlement.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { initSimnet, tx } from '@stacks/clarinet-sdk';
import {
  makeContractCall,
  privateKeyToPublic,
  compressPublicKey,
  getAddressFromPrivateKey,
  type ClarityValue,
} from '@stacks/transactions';
import {
  completeTasksArgs,
  settleRedundantArgs,
  bondNodeArgs,
  nodeKeyArgs,
  deployModelArgs,
  submitTaskArgs,
  decodeCompleteResults,
  decodeRedundantResults,
  type CompleteTaskItem,
  type RedundantTask,
} from '../protocol/contracts/index.js';
import { signTaskResult, CHAIN_ID } from '../protocol/sip018/index.js';
import { sha256Hex } from '../protocol/hash/index.js';

const ROOT = new URL('..', import.meta.url).pathname;
const SIZES = [1, 10, 50, 100, 200];
const REDUNDANT_SIZES = [1, 5, 10, 20];
// Clarinet's public devnet deployer key (settings/Devnet.toml): signs the measured transactions.
const DEPLOYER_KEY = '753b7cc01a1a2e86221266a154af739463fce51219d97e4f856cd7200c3bd2a601';
const DEPLOYER = getAddressFromPrivateKey(DEPLOYER_KEY, 'testnet');
const STAKE = 10_000_000n;

type Cost = { runtime: number; readCount: number; readLength: number; writeCount: number; writeLength: number };
const DIMS: (keyof Cost)[] = ['runtime', 'readCount', 'readLength', 'writeCount', 'writeLength'];

// simnet echoes every print event through console.log; keep the report readable
const say = (s: string) => process.stdout.write(`${s}\n`);
console.log = () => {};

const simnet = await initSimnet(`${ROOT}Clarinet.toml`, true, { trackCosts: true, trackCoverage: false });
const accounts = simnet.getAccounts();
const wallets = [...accounts.entries()].filter(([n]) => n.startsWith('wallet_')).map(([, a]) => a);
const faucet = accounts.get('faucet')!;
const ESCROW = `${DEPLOYER}.inference-escrow`;
const DIRECT = `${DEPLOYER}.inference-escrow-direct`;

/** The escrow with three transfers per item instead of one per run of a payee (its `pay-run` swapped). */
function directVariant(): string {
  const src = readFileSync(`${ROOT}contracts/inference-escrow.clar`, 'utf8');
  const start = src.indexOf('(define-private (pay-run');
  const end = src.indexOf('(define-private (item-result');
  if (start < 0 || end < 0) throw new Error('inference-escrow.clar changed: cannot find pay-run to swap');
  const direct = `(define-private (pay-run
    (settled (response { node: principal, node-cut: uint, owner: principal, owner-cut: uint, treasury: principal, treasury-cut: uint } uint))
    (acc { node: principal, node-amount: uint, owner: principal, owner-amount: uint, treasury: principal, treasury-amount: uint, paid: uint, ok: bool }))
  (match settled
    s (merge acc {
        paid: (+ (get paid acc) (get node-cut s) (get owner-cut s) (get treasury-cut s)),
        ok: (and (get ok acc) (pay-out (get node s) (get node-cut s)) (pay-out (get owner s) (get owner-cut s))
          (pay-out (get treasury s) (get treasury-cut s))),
      })
    code acc))

`;
  return src.slice(0, start) + direct + src.slice(end);
}
const deployed = simnet.deployContract('inference-escrow-direct', directVariant(), { clarityVersion: 3 }, DEPLOYER);
if (deployed.result.type !== 'ok' && deployed.result.type !== 'true')
  throw new Error(`could not deploy the per-item-transfer variant: ${JSON.stringify(deployed.result)}`);

const model = simnet.callPublicFn(
  `${DEPLOYER}.model-registry`,
  'deploy',
  deployModelArgs({ model: 'bench', artifactHash: sha256Hex('bench'), format: 'onnx', price: 1n, uri: '' }),
  wallets[0],
);
const outputId = (model.result as { value: { value: bigint } }).value.value;
const nodeKeys = Array.from({ length: 200 }, (_, i) => `${sha256Hex(`bench-node-${i}`)}01`);
const nodePubs = nodeKeys.map((k) => compressPublicKey(privateKeyToPublic(k)));
const nodeAddresses = nodeKeys.map((k) => getAddressFromPrivateKey(k, 'testnet'));

/** Funds each node address from the faucet and bonds its key in `escrow`, from the node's own address. */
function bondAll(escrow: string, indexes: number[]): void {
  const block = simnet.mineBlock(
    indexes.flatMap((i) => [
      tx.transferSTX(Number(STAKE), nodeAddresses[i], faucet),
      tx.callPublicFn(escrow, 'bond-node', bondNodeArgs(nodePubs[i], STAKE), nodeAddresses[i]),
    ]),
  );
  const bad = block.find((r) => r.result.type !== 'ok');
  if (bad) throw new Error(`bonding failed: ${JSON.stringify(bad.result)}`);
}
bondAll(
  ESCROW,
  nodeKeys.map((_, i) => i),
);
bondAll(DIRECT, [0]);

/** Submits a task to `escrow` and returns its id and input hash. */
function submitTask(escrow: string, i: number, security: 1 | 3 = 1): { taskId: bigint; inputHash: string } {
  const inputHash = sha256Hex(`${escrow}-${simnet.blockHeight}-${i}`);
  const r = simnet.callPublicFn(
    escrow,
    'submit-task',
    submitTaskArgs({
      modelOutput: outputId,
      inputHash,
      fee: 10_000n,
      maxBlocks: 1000,
      privacy: 0,
      priority: 0,
      security,
    }),
    wallets[1 + (i % 4)],
  );
  if (r.result.type !== 'ok') throw new Error(`submit-task failed: ${JSON.stringify(r.result)}`);
  return { taskId: BigInt((r.result as { value: { value: bigint } }).value.value), inputHash };
}

/** Node k's signed result for a task. */
function result(escrow: string, t: { taskId: bigint; inputHash: string }, k: number, output = 'out'): CompleteTaskItem {
  const outputHash = sha256Hex(`${output}-${t.taskId}`);
  return {
    taskId: t.taskId,
    outputHash,
    nodePublicKey: nodePubs[k],
    signature: signTaskResult(
      { escrow, taskId: t.taskId, inputHash: t.inputHash, outputHash },
      CHAIN_ID.testnet,
      nodeKeys[k],
    ),
  };
}

async function txBytes(escrow: string, functionName: string, args: ClarityValue[]): Promise<number> {
  const [contractAddress, contractName] = escrow.split('.');
  const tx = await makeContractCall({
    contractAddress,
    contractName,
    functionName,
    functionArgs: args,
    senderKey: DEPLOYER_KEY,
    network: 'testnet',
    fee: 10_000n,
    nonce: 0n,
    validateWithAbi: false,
    postConditionMode: 'allow',
  });
  return tx.serialize().length / 2;
}

interface Row {
  batch: number;
  total: Cost;
  perTask: Cost;
  txBytes: number;
  txBytesPerTask: number;
  blockShare: Cost;
}
let limit: Cost | undefined;
const per = (c: Cost, d: number) => Object.fromEntries(DIMS.map((k) => [k, Math.round((c[k] / d) * 10) / 10])) as Cost;

/** Runs one settlement call of n tasks and returns its cost row. */
async function row(
  escrow: string,
  fn: string,
  args: ClarityValue[],
  n: number,
  sender = DEPLOYER,
): Promise<Row & { result: ClarityValue }> {
  const r = simnet.callPublicFn(escrow, fn, args, sender);
  if (!r.costs) throw new Error('simnet did not report costs (trackCosts)');
  limit = r.costs.limit;
  const total = r.costs.total;
  const bytes = await txBytes(escrow, fn, args);
  const share = Object.fromEntries(
    DIMS.map((k) => [k, Math.round((total[k] / r.costs!.limit[k]) * 10_000) / 10_000]),
  ) as Cost;
  return {
    result: r.result,
    batch: n,
    total,
    perTask: per(total, n),
    txBytes: bytes,
    txBytesPerTask: Math.round((bytes / n) * 10) / 10,
    blockShare: share,
  };
}

async function measureLevel1(escrow: string, n: number, distinctNodes: boolean): Promise<Row> {
  const items = Array.from({ length: n }, (_, i) => result(escrow, submitTask(escrow, i), distinctNodes ? i : 0));
  const { result: cv, ...r } = await row(escrow, 'complete-tasks', completeTasksArgs(items), n);
  const results = decodeCompleteResults(cv);
  if (results.length !== n || !results.every((x) => x.ok))
    throw new Error(`batch of ${n} did not settle: ${JSON.stringify(results.find((x) => !x.ok))}`);
  return r;
}

/** Minority keys of disputed tasks: each is slashed once and out for good, so each dispute takes a fresh one. */
let nextMinority = 10;
type Redundant =
  | 'level 3, three agreeing results'
  | 'level 3, 2 against 1 (one slashed)'
  | 'level 1 spot check, two agreeing results';
async function measureRedundant(kind: Redundant, n: number): Promise<Row> {
  const tasks: RedundantTask[] = Array.from({ length: n }, (_, i) => {
    const t = submitTask(ESCROW, i, kind.startsWith('level 1') ? 1 : 3);
    const strip = ({ taskId: _, ...r }: CompleteTaskItem) => r;
    const votes = kind.startsWith('level 1') ? [0, 1] : [0, 1, 2];
    const results = votes.map((k) => strip(result(ESCROW, t, k)));
    if (kind.includes('against')) results[2] = strip(result(ESCROW, t, nextMinority++, 'wrong'));
    return { taskId: t.taskId, results };
  });
  const { result: cv, ...r } = await row(ESCROW, 'settle-redundant', settleRedundantArgs(tasks), n);
  const results = decodeRedundantResults(cv);
  const slashes = kind.includes('against') ? 1 : 0;
  if (results.length !== n || !results.every((x) => x.ok && x.slashed > 0n === slashes > 0))
    throw new Error(`${kind} x${n} did not settle as expected: ${JSON.stringify(results)}`);
  return r;
}

/** Largest batch whose cost fits the block budget, extrapolated linearly from the two largest sizes. */
function maxBatch(rows: Row[]): { batch: number; boundBy: keyof Cost } {
  const [a, b] = rows.slice(-2);
  let best = { batch: Infinity, boundBy: 'runtime' as keyof Cost };
  for (const k of DIMS) {
    const marginal = (b.total[k] - a.total[k]) / (b.batch - a.batch);
    const fixed = a.total[k] - marginal * a.batch;
    const fit = marginal > 0 ? Math.floor((limit![k] - fixed) / marginal) : Infinity;
    if (fit < best.batch) best = { batch: fit, boundBy: k };
  }
  return best;
}

const scenarios = {
  'one node, one transfer per payee': { escrow: ESCROW, distinct: false },
  'distinct nodes, one transfer per payee': { escrow: ESCROW, distinct: true },
  'one node, transfer per item (variant)': { escrow: DIRECT, distinct: false },
};
type Scenario = { rows: Row[]; maxBatchInBlock: { batch: number; boundBy: keyof Cost }; listLimit: number };
const out: Record<string, Scenario> = {};
for (const [name, s] of Object.entries(scenarios)) {
  const rows: Row[] = [];
  for (const n of SIZES) rows.push(await measureLevel1(s.escrow, n, s.distinct));
  out[name] = { rows, maxBatchInBlock: maxBatch(rows), listLimit: 200 };
}
const redundant: Record<string, Scenario> = {};
for (const kind of [
  'level 3, three agreeing results',
  'level 3, 2 against 1 (one slashed)',
  'level 1 spot check, two agreeing results',
] as Redundant[]) {
  const rows: Row[] = [];
  for (const n of REDUNDANT_SIZES) rows.push(await measureRedundant(kind, n));
  redundant[`settle-redundant: ${kind}`] = { rows, maxBatchInBlock: maxBatch(rows), listLimit: 20 };
}

/** One registry call's cost. */
function cost(fn: string, args: ClarityValue[], sender: string): Cost {
  const r = simnet.callPublicFn(ESCROW, fn, args, sender);
  if (r.result.type !== 'ok') throw new Error(`${fn} failed: ${JSON.stringify(r.result)}`);
  return r.costs!.total;
}
const fresh = `${sha256Hex('bench-registry-node')}01`;
const freshPub = compressPublicKey(privateKeyToPublic(fresh));
const freshAddr = getAddressFromPrivateKey(fresh, 'testnet');
simnet.transferSTX(3n * STAKE, freshAddr, faucet);
const registry: Record<string, Cost> = {
  'bond-node (new key)': cost('bond-node', bondNodeArgs(freshPub, STAKE), freshAddr),
  'bond-node (top-up)': cost('bond-node', bondNodeArgs(freshPub, STAKE), freshAddr),
  'unbond-node': cost('unbond-node', nodeKeyArgs(freshPub), freshAddr),
};
simnet.mineEmptyBlocks(1001);
registry['withdraw-stake'] = cost('withdraw-stake', nodeKeyArgs(freshPub), freshAddr);

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
};
/** A redundant task's runtime per task against a level-1 task's, both alone in a call and in a batch of 20 (level 1 interpolated from 10 and 50). */
const level1 = out['one node, one transfer per payee'].rows;
const level1At20 =
  level1[1].perTask.runtime + ((level1[2].perTask.runtime - level1[1].perTask.runtime) * (20 - 10)) / 40;
const versusLevel1 = Object.fromEntries(
  Object.entries(redundant).map(([name, s]) => [
    name,
    {
      alone: Math.round((s.rows[0].perTask.runtime / level1[0].perTask.runtime) * 100) / 100,
      batch20: Math.round((s.rows.at(-1)!.perTask.runtime / level1At20) * 100) / 100,
    },
  ]),
);
const report = {
  generatedAt: new Date().toISOString(),
  tool: '@stacks/clarinet-sdk simnet cost tracking (Clarity 3, epoch 3.1); tx bytes from @stacks/transactions makeContractCall',
  blockLimit: limit,
  scenarios: out,
  redundant,
  redundantRuntimeVersusLevel1: versusLevel1,
  registry,
  goal,
};
mkdirSync(`${ROOT}bench/results`, { recursive: true });
writeFileSync(`${ROOT}bench/results/settlement.json`, JSON.stringify(report, null, 2));

for (const [name, s] of Object.entries({ ...out, ...redundant })) {
  say(
    `\n${name}  (largest batch within one block's budget: ${s.maxBatchInBlock.batch}, bound by ${s.maxBatchInBlock.boundBy}; list limit ${s.listLimit})`,
  );
  say(
    '| batch | runtime/task | reads/task | read bytes/task | writes/task | write bytes/task | tx bytes/task | block runtime share |',
  );
  say('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of s.rows) {
    say(
      `| ${r.batch} | ${r.perTask.runtime} | ${r.perTask.readCount} | ${r.perTask.readLength} | ${r.perTask.writeCount} | ${r.perTask.writeLength} | ${r.txBytesPerTask} | ${(r.blockShare.runtime * 100).toFixed(2)}% |`,
    );
  }
}
say('\nnode registry, one call each');
say('| call | runtime | reads | read bytes | writes | write bytes |');
say('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const [name, c] of Object.entries(registry))
  say(`| ${name} | ${c.runtime} | ${c.readCount} | ${c.readLength} | ${c.writeCount} | ${c.writeLength} |`);
say('\nruntime per task against a level-1 task (complete-tasks, one node): alone in a call / in a batch of 20');
for (const [name, v] of Object.entries(versusLevel1)) say(`  ${name}: ${v.alone}x / ${v.batch20}x`);
const g = goal['complete-tasks'];
say(
  `\ncomplete-tasks: batch 100 vs batch 1, per task: bytes ${g.bytesPerTaskRatio}, runtime ${g.runtimePerTaskRatio} (goal <= 0.5 each: ${g.met ? 'met' : 'missed'})`,
);
say(`wrote bench/results/settlement.json`);
