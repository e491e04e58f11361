/**
 * `npm run bench:accounts`: what prepaid accounts cost the chain per task, beside escrowed tasks.
 *
 * On chain (simnet with cost tracking, the same run): 10,000 tasks from 100 accounts run by 10
 * nodes are settled by `settle-accounts` — each account's one spend authorization, really signed
 * over the Merkle root of its 100 receipt leaves (each leaf a really signed task request), and
 * credits for the 10 node principals, the model owner and the treasury — against 100 escrowed
 * tasks settled by `complete-tasks` at batch 100 (after 100 `submit-task` calls, which are part of
 * an escrowed task's cost too). Reported per task: runtime, reads, writes, bytes; and tasks per
 * tenure at the read and write limits. Goal: >= 100x fewer reads and writes per task.
 *
 * Off chain: the signer accepting signed task requests on loopback (POST /api/v1/requests,
 * signature check included), on a real marketplace (devnet + signer processes), see ./accounts-intake.ts.
 * Writes bench/results/accounts.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { initSimnet, tx } from '@stacks/clarinet-sdk';
import {
  compressPublicKey,
  getAddressFromPrivateKey,
  makeContractCall,
  privateKeyToPublic,
  type ClarityValue,
} from '@stacks/transactions';
import {
  amountArgs,
  bondNodeArgs,
  completeTasksArgs,
  decodeCompleteResults,
  deployModelArgs,
  orderForSettlement,
  setSettlerArgs,
  settleAccountsArgs,
  submitTaskArgs,
  type Credit,
  type SettleItem,
} from '../protocol/contracts/index.js';
import { CHAIN_ID, signTaskResult } from '../protocol/sip018/index.js';
import { sha256Hex } from '../protocol/hash/index.js';
import {
  authorizeLeaves,
  leafHash,
  merkleRoot,
  signTaskRequest,
  type ReceiptLeaf,
  type TaskRequest,
} from '../protocol/accounts/index.js';
import { measureIntake } from './accounts-intake.js';

const ROOT = new URL('..', import.meta.url).pathname;
const ACCOUNTS = 100;
const TASKS_PER_ACCOUNT = 100;
const NODES = 10;
const FEE = 10_000n;
const OWNER_BPS = 1000n;
const TREASURY_BPS = 500n;
// Clarinet's public devnet deployer key (settings/Devnet.toml): admin of both contracts here.
const DEPLOYER_KEY = '753b7cc01a1a2e86221266a154af739463fce51219d97e4f856cd7200c3bd2a601';
const DEPLOYER = getAddressFromPrivateKey(DEPLOYER_KEY, 'testnet');
const say = (s: string) => process.stdout.write(`${s}\n`);
console.log = () => {};

type Cost = { runtime: number; readCount: number; readLength: number; writeCount: number; writeLength: number };
const DIMS: (keyof Cost)[] = ['runtime', 'readCount', 'readLength', 'writeCount', 'writeLength'];
const add = (a: Cost, b: Cost): Cost => Object.fromEntries(DIMS.map((k) => [k, a[k] + b[k]])) as Cost;
const per = (c: Cost, n: number): Cost =>
  Object.fromEntries(DIMS.map((k) => [k, Math.round((c[k] / n) * 1000) / 1000])) as Cost;
const zero: Cost = { runtime: 0, readCount: 0, readLength: 0, writeCount: 0, writeLength: 0 };

const simnet = await initSimnet(`${ROOT}Clarinet.toml`, true, { trackCosts: true, trackCoverage: false });
const devAccounts = simnet.getAccounts();
const faucet = devAccounts.get('faucet')!;
const owner = devAccounts.get('wallet_7')!;
const ESCROW = `${DEPLOYER}.inference-escrow`;
const MARKET = `${DEPLOYER}.accounts`;
let limit: Cost | undefined;

/** Runs a public call, failing the bench on an error result; returns its cost and result. */
function call(
  contract: string,
  fn: string,
  args: ClarityValue[],
  sender: string,
): { cost: Cost; result: ClarityValue } {
  const r = simnet.callPublicFn(contract, fn, args, sender);
  if (r.result.type === 'err') throw new Error(`${fn} failed: ${JSON.stringify(r.result)}`);
  if (!r.costs) throw new Error('simnet did not report costs (trackCosts)');
  limit = r.costs.limit;
  return { cost: r.costs.total, result: r.result };
}

/** Bytes of the real signed transaction carrying a call. */
async function txBytes(contract: string, functionName: string, args: ClarityValue[]): Promise<number> {
  const [contractAddress, contractName] = contract.split('.');
  const t = await makeContractCall({
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
  return t.serialize().length / 2;
}

const model = call(
  `${DEPLOYER}.model-registry`,
  'deploy',
  deployModelArgs({ model: 'bench', artifactHash: sha256Hex('bench'), format: 'onnx', price: FEE, uri: '' }),
  owner,
);
const modelOutput = BigInt((model.result as unknown as { value: { value: bigint } }).value.value);
const keyOf = (what: string) => `${sha256Hex(what)}01`;
const nodeKeys = Array.from({ length: NODES }, (_, i) => keyOf(`bench-accounts-node-${i}`));
const nodePubs = nodeKeys.map((k) => compressPublicKey(privateKeyToPublic(k)));
const nodeAddresses = nodeKeys.map((k) => getAddressFromPrivateKey(k, 'testnet'));

// --- escrowed tasks: 100 submit-task + complete-tasks at batch 100 on the same 10 nodes ------------
// Items grouped by node as the signer sends them (orderForSettlement): one transfer per node per batch.
const STAKE = 10_000_000n;
simnet.mineBlock(
  nodeAddresses.flatMap((who, i) => [
    tx.transferSTX(Number(STAKE), who, faucet),
    tx.callPublicFn(ESCROW, 'bond-node', bondNodeArgs(nodePubs[i]!, STAKE), who),
  ]),
);
const wallets = [...devAccounts.entries()].filter(([n]) => n.startsWith('wallet_')).map(([, a]) => a);
let submitCost = zero;
const items = [];
for (let i = 0; i < 100; i++) {
  const inputHash = sha256Hex(`escrowed-${i}`);
  const s = call(
    ESCROW,
    'submit-task',
    submitTaskArgs({ modelOutput, inputHash, fee: FEE, maxBlocks: 1000, privacy: 0, priority: 0, security: 1 }),
    wallets[1 + (i % 4)]!,
  );
  submitCost = add(submitCost, s.cost);
  const taskId = BigInt((s.result as unknown as { value: { value: bigint } }).value.value);
  const outputHash = sha256Hex(`out-${i}`);
  const node = i % NODES;
  items.push({
    taskId,
    outputHash,
    nodePublicKey: nodePubs[node]!,
    signature: signTaskResult({ escrow: ESCROW, taskId, inputHash, outputHash }, CHAIN_ID.testnet, nodeKeys[node]!),
  });
}
const completeArgs = completeTasksArgs(orderForSettlement(items));
const complete = call(ESCROW, 'complete-tasks', completeArgs, DEPLOYER);
if (!decodeCompleteResults(complete.result).every((r) => r.ok))
  throw new Error('complete-tasks did not settle every task');
const escrowSettleBytes = await txBytes(ESCROW, 'complete-tasks', completeArgs);
const submitBytes = await txBytes(
  ESCROW,
  'submit-task',
  submitTaskArgs({
    modelOutput,
    inputHash: sha256Hex('x'),
    fee: FEE,
    maxBlocks: 1000,
    privacy: 0,
    priority: 0,
    security: 1,
  }),
);

// --- prepaid: 100 accounts x 100 tasks, 10 nodes, one settle-accounts ------------------------------
const settlerKey = keyOf('bench-accounts-settler');
const settler = getAddressFromPrivateKey(settlerKey, 'testnet');
simnet.transferSTX(100_000_000n, settler, faucet);
call(MARKET, 'set-settler', setSettlerArgs(settler, compressPublicKey(privateKeyToPublic(settlerKey))), DEPLOYER);
call(MARKET, 'post-bond', amountArgs(50_000_000n), settler);
const accountKeys = Array.from({ length: ACCOUNTS }, (_, i) => keyOf(`bench-accounts-account-${i}`));
const deposit = FEE * BigInt(TASKS_PER_ACCOUNT) * 2n;
simnet.mineBlock(
  accountKeys.flatMap((k) => {
    const who = getAddressFromPrivateKey(k, 'testnet');
    return [
      tx.transferSTX(Number(deposit + 1_000_000n), who, faucet),
      tx.callPublicFn(MARKET, 'deposit', amountArgs(deposit), who),
    ];
  }),
);

const signStarted = performance.now();
const settleItems: SettleItem[] = [];
const allLeaves: string[] = [];
const shares = new Map<string, bigint>();
const credit = (payee: string, amount: bigint) => shares.set(payee, (shares.get(payee) ?? 0n) + amount);
for (const [a, k] of accountKeys.entries()) {
  const account = getAddressFromPrivateKey(k, 'testnet');
  const leaves: ReceiptLeaf[] = [];
  for (let t = 0; t < TASKS_PER_ACCOUNT; t++) {
    const request: TaskRequest = {
      account,
      market: MARKET,
      modelOutput,
      inputHash: sha256Hex(`in-${a}-${t}`),
      maxFee: FEE,
      expiry: 2_000_000_000n,
      security: 1n,
      nonce: BigInt(t + 1),
    };
    const node = (a * TASKS_PER_ACCOUNT + t) % NODES;
    leaves.push({
      request,
      requestSignature: signTaskRequest(request, CHAIN_ID.testnet, k),
      node: nodePubs[node]!,
      outputHash: sha256Hex(`out-${a}-${t}`),
      fee: FEE,
    });
    const ownerCut = (FEE * OWNER_BPS) / 10_000n;
    const treasuryCut = (FEE * TREASURY_BPS) / 10_000n;
    credit(nodeAddresses[node]!, FEE - ownerCut - treasuryCut);
    credit(owner, ownerCut);
    credit(DEPLOYER, treasuryCut);
  }
  const { authorization, signature } = authorizeLeaves(
    { cumulative: 0n, nonce: 0n },
    leaves,
    MARKET,
    CHAIN_ID.testnet,
    k,
  );
  settleItems.push({
    account,
    cumulative: authorization.cumulative,
    nonce: authorization.nonce,
    receiptsRoot: authorization.receiptsRoot,
    signature,
    spend: authorization.cumulative,
  });
  allLeaves.push(...leaves.map(leafHash));
}
const signSeconds = (performance.now() - signStarted) / 1000;
const credits: Credit[] = [...shares].map(([payee, amount]) => ({ payee, amount }));
const settleArgs = settleAccountsArgs({
  root: merkleRoot(allLeaves),
  tasks: allLeaves.length,
  items: settleItems,
  credits,
});
const settled = call(MARKET, 'settle-accounts', settleArgs, settler);
const prepaidBytes = await txBytes(MARKET, 'settle-accounts', settleArgs);
const prepaidTasks = ACCOUNTS * TASKS_PER_ACCOUNT;

const escrowTotal = add(submitCost, complete.cost);
const escrowPerTask = per(escrowTotal, 100);
const prepaidPerTask = per(settled.cost, prepaidTasks);
const perTenure = (c: Cost) => ({
  atReadLimit: Math.floor(limit!.readCount / c.readCount),
  atWriteLimit: Math.floor(limit!.writeCount / c.writeCount),
  atRuntimeLimit: Math.floor(limit!.runtime / c.runtime),
});
const completeOnlyPerTask = per(complete.cost, 100);
/** Against complete-tasks alone (the yardstick); `ratioWithSubmit` counts the escrowed task's submit-task too. */
const ratio = (k: keyof Cost) => Math.round((completeOnlyPerTask[k] / prepaidPerTask[k]) * 10) / 10;
const ratioWithSubmit = (k: keyof Cost) => Math.round((escrowPerTask[k] / prepaidPerTask[k]) * 10) / 10;
const onChain = {
  escrowed: {
    what: '100 submit-task + complete-tasks at batch 100, the same 10 nodes, items grouped by node',
    perTask: escrowPerTask,
    settleOnlyPerTask: completeOnlyPerTask,
    txBytesPerTask: Math.round(((submitBytes * 100 + escrowSettleBytes) / 100) * 10) / 10,
    tasksPerTenure: perTenure(escrowPerTask),
  },
  prepaid: {
    what: `${prepaidTasks} tasks from ${ACCOUNTS} accounts on ${NODES} nodes, one settle-accounts (${settleItems.length} authorizations, ${credits.length} credits)`,
    total: settled.cost,
    perTask: prepaidPerTask,
    txBytes: prepaidBytes,
    txBytesPerTask: Math.round((prepaidBytes / prepaidTasks) * 1000) / 1000,
    tasksPerTenure: perTenure(prepaidPerTask),
    blockShare: Object.fromEntries(DIMS.map((k) => [k, Math.round((settled.cost[k] / limit![k]) * 10_000) / 10_000])),
    clientSigningSeconds: Math.round(signSeconds * 10) / 10,
  },
  fewerPerTaskThanCompleteTasks: { reads: ratio('readCount'), writes: ratio('writeCount'), runtime: ratio('runtime') },
  fewerPerTaskThanSubmitPlusComplete: {
    reads: ratioWithSubmit('readCount'),
    writes: ratioWithSubmit('writeCount'),
    runtime: ratioWithSubmit('runtime'),
  },
};

say(
  `\non chain, per task: escrowed (submit + complete-tasks at 100) vs prepaid (${prepaidTasks} tasks, one settle-accounts)`,
);
say('| | runtime | reads | read bytes | writes | write bytes | tx bytes |');
say('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
say(
  `| complete-tasks only | ${completeOnlyPerTask.runtime} | ${completeOnlyPerTask.readCount} | ${completeOnlyPerTask.readLength} | ${completeOnlyPerTask.writeCount} | ${completeOnlyPerTask.writeLength} | ${Math.round((escrowSettleBytes / 100) * 10) / 10} |`,
);
say(
  `| escrowed | ${escrowPerTask.runtime} | ${escrowPerTask.readCount} | ${escrowPerTask.readLength} | ${escrowPerTask.writeCount} | ${escrowPerTask.writeLength} | ${onChain.escrowed.txBytesPerTask} |`,
);
say(
  `| prepaid | ${prepaidPerTask.runtime} | ${prepaidPerTask.readCount} | ${prepaidPerTask.readLength} | ${prepaidPerTask.writeCount} | ${prepaidPerTask.writeLength} | ${onChain.prepaid.txBytesPerTask} |`,
);
say(
  `fewer per task than complete-tasks: reads ${ratio('readCount')}x, writes ${ratio('writeCount')}x, runtime ${ratio('runtime')}x; than submit-task + complete-tasks: reads ${ratioWithSubmit('readCount')}x, writes ${ratioWithSubmit('writeCount')}x`,
);
say(
  `tasks per tenure: escrowed ${JSON.stringify(onChain.escrowed.tasksPerTenure)}, prepaid ${JSON.stringify(onChain.prepaid.tasksPerTenure)}`,
);

const intake = process.env.BENCH_ACCOUNTS_ONCHAIN_ONLY ? null : await measureIntake(say);
const prepaidTenure = Math.min(
  onChain.prepaid.tasksPerTenure.atReadLimit,
  onChain.prepaid.tasksPerTenure.atWriteLimit,
  onChain.prepaid.tasksPerTenure.atRuntimeLimit,
);
const goals = {
  'reads and writes per task >= 100x fewer than complete-tasks': {
    reads: ratio('readCount'),
    writes: ratio('writeCount'),
    met: ratio('readCount') >= 100 && ratio('writeCount') >= 100,
  },
  '>= 150,000 tasks per tenure': { tasks: prepaidTenure, met: prepaidTenure >= 150_000 },
  '>= 2,000 signed task requests accepted per second': intake
    ? { perSecond: intake.acceptedPerSecond, met: intake.acceptedPerSecond >= 2000 }
    : 'not measured (BENCH_ACCOUNTS_ONCHAIN_ONLY)',
};
const report = {
  generatedAt: new Date().toISOString(),
  tool: '@stacks/clarinet-sdk simnet cost tracking (Clarity 3, epoch 3.1); tx bytes from @stacks/transactions makeContractCall',
  blockLimit: limit,
  onChain,
  intake,
  goals,
};
mkdirSync(`${ROOT}bench/results`, { recursive: true });
writeFileSync(`${ROOT}bench/results/accounts.json`, JSON.stringify(report, null, 2));
for (const [goal, v] of Object.entries(goals)) say(`${goal}: ${JSON.stringify(v)}`);
say('wrote bench/results/accounts.json');
