/**
 * `node-agent run | keygen | models | bench | bond | unbond | withdraw | status`: the node
 * operator's whole experience.
 *   run       bond the key if it has no stake, register with the signer, pull tasks, compute, sign and post them
 *   keygen    create (or show) the node key and its payout address
 *   models    list the models this node would serve, with their sha256
 *   bench     measure this machine; the score is stored beside the key and registered by `run`
 *   bond      bond a stake under the key (or add to it)
 *   unbond    announce that the node stops: no more tasks; the stake is withdrawable after a delay
 *   withdraw  take the stake back once the delay has passed
 *   status    the key's address, balance and bond
 *   claim     take the STX prepaid-account settlements credited to the key
 *   voucher   fetch the signer's signed voucher for the key, check it, save it
 *   challenge-voucher  after its settle-by, send the saved voucher to the chain: the shortfall comes from the signer's bond
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { agentLogger } from './log.js';
import { ClarityType } from '@stacks/transactions';
import {
  BondClient,
  BondError,
  ConfigError,
  DEFAULT_MODELS,
  DynamicBatcher,
  WorkerPool,
  benchFileOf,
  ensureBond,
  fundingHint,
  loadConfig,
  loadOrCreateKey,
  modelSpecs,
  nodeIdOf,
  scanModels,
  startAgent,
  type AgentConfig,
} from './index.js';
import type { ModelSpec } from './config/index.js';
import { expandHome } from './config/index.js';
import { REFERENCE_CLASSIFIER_IPS, measure, performanceScore } from './bench/index.js';
import { PayeeClient, keepSaved, loadVoucher, saveVoucher, voucherFileOf } from './accounts/index.js';

const USAGE = `usage: node-agent <command> [options]

commands:
  run      --signer URL --key FILE --models DIR [--node-id ID] [--config FILE]
  keygen   [--key FILE] [--config FILE]      create the key (0600) if missing; print the payout address
  models   [--models DIR] [--config FILE]    list served models with their sha256
  bench    [--seconds N] [--config FILE]     measure this machine; derive the performance_score
  bond     [--amount MICRO_STX] [--key FILE]  bond a stake under the node key (run does it when there is none); with an
                                             active bond, --amount adds to it
  unbond   [--key FILE]                       stop taking tasks; the stake stays locked (slashable) for the unbonding delay
  withdraw [--key FILE]                       after the delay, pay the stake back to the node address
  status   [--key FILE]                       the node address, its balance and its bond
  claim    [--key FILE]                       withdraw what prepaid-account settlements credited to the key (accounts contract)
  voucher  [--key FILE] [--signer URL]        fetch the signer's voucher for what it owes the key, check it is signed by the
                                             settler key on chain, save it (voucher.json beside the key) and print it
  challenge-voucher [--key FILE] [--file F]   after the voucher's settle-by, if the key was credited less: challenge the
                                             signer's bond with it (shortfall plus penalty become claimable)

run, bond, unbond, withdraw and status reach the chain at chain.api_url (--stacks-api URL) and the
escrow chain.escrow_contract; the transactions are signed by the node key and pay their fees from
the node address.

The config defaults to config/node-agent.toml when it exists; NODE_AGENT_* variables override it,
and flags override both.`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    config: { type: 'string' },
    signer: { type: 'string' },
    key: { type: 'string' },
    models: { type: 'string' },
    'node-id': { type: 'string' },
    'stacks-api': { type: 'string' },
    amount: { type: 'string' },
    file: { type: 'string' },
    seconds: { type: 'string', default: '5' },
    help: { type: 'boolean', short: 'h' },
  },
});

function config(): AgentConfig {
  const file = values.config ?? (existsSync('config/node-agent.toml') ? 'config/node-agent.toml' : undefined);
  return loadConfig(file, {
    signer: values.signer,
    key: values.key,
    models: values.models,
    nodeId: values['node-id'],
    stacksApi: values['stacks-api'],
  });
}

async function run() {
  const cfg = config();
  const log = agentLogger();
  const running = await startAgent(cfg, log);
  const stake = running.bond ? `; bonded ${running.bond.stake} micro-STX in ${cfg.chain.escrow_contract}` : '';
  console.error(
    `node ${running.nodeId}: payout address ${running.key.address}${stake}; serving ${running.store.served().length} model(s); signer ${cfg.agent.signer}`,
  );
  if (running.store.served().length === 0)
    console.error('warning: this node serves no model, so the signer will give it no task; see `node-agent models`');
  const shutdown = async (signal: string) => {
    log.info({ signal }, 'stopping');
    await running.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}

function keygen() {
  const cfg = config();
  const file = expandHome(cfg.agent.key_file);
  const key = loadOrCreateKey(file, cfg.agent.network);
  console.log(`${key.created ? 'created' : 'existing'} key ${file}`);
  console.log(`network         ${cfg.agent.network}`);
  console.log(`payout address  ${key.address}`);
  console.log(`public key      ${key.publicKey}`);
  console.log(`node id         ${nodeIdOf(cfg, key)}`);
}

async function models() {
  const cfg = config();
  const { models: found, refused } = await scanModels(
    modelSpecs(cfg),
    cfg.agent.models_dir ? expandHome(cfg.agent.models_dir) : '',
  );
  for (const m of found) console.log(`${m.artifactHash}  ${m.name}  ${m.path}`);
  for (const r of refused) console.log(`REFUSED  ${r.path}: ${r.reason}`);
  if (found.length === 0) console.log('no models: add [[models]] to the config or put .onnx files in --models');
}

async function bench() {
  const cfg = config();
  const seconds = Number(values.seconds);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new ConfigError(`--seconds must be a positive number, got "${values.seconds}"`);
  const pool = await WorkerPool.start({
    workers: cfg.runtime.workers,
    intraOpThreads: cfg.runtime.intra_op_threads,
    engine: cfg.runtime.engine,
  });
  const batcher = new DynamicBatcher(pool, {
    maxBatch: cfg.runtime.max_batch,
    maxQueueDelayMs: cfg.runtime.max_queue_delay_ms,
  });
  const results: Record<string, unknown> = {};
  let classifierIps = 0;
  try {
    const reference = DEFAULT_MODELS.classifier;
    const configured = modelSpecs(cfg).filter((m) => m.path !== reference.path);
    for (const m of [reference, ...configured] as ModelSpec[]) {
      const { info } = await pool.load(m.path, m.path, m.warmupShape);
      const dims = m.warmupShape[info.inputs[0]!.name];
      if (!dims) {
        results[m.name] = { skipped: 'no warmup_shape configured for its first input' };
        continue;
      }
      batcher.register(m.path, info, m.maxBatch);
      const r = await measure(batcher, m.path, info, dims, 4 * (m.maxBatch ?? cfg.runtime.max_batch), seconds);
      results[m.name] = { input_shape: dims, ...r };
      if (m.path === reference.path) classifierIps = r.inferences_per_s;
      console.log(
        `${m.name}: ${r.inferences_per_s} inferences/s, p50 ${r.p50_ms} ms, p95 ${r.p95_ms} ms, mean batch ${r.mean_batch}`,
      );
    }
  } finally {
    batcher.close();
    await pool.close();
  }
  const score = performanceScore(classifierIps);
  const file = benchFileOf(cfg);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        performance_score: score,
        workers: pool.size,
        intra_op_threads: pool.intraOpThreads,
        results,
      },
      null,
      2,
    )}\n`,
  );
  console.log(
    `performance_score ${score} (100 = ${REFERENCE_CLASSIFIER_IPS} classifier inferences/s); saved to ${file}`,
  );
}

/** The node key and a client of its bond, from the config. */
function bondClient(): { cfg: AgentConfig; client: BondClient } {
  const cfg = config();
  const key = loadOrCreateKey(expandHome(cfg.agent.key_file), cfg.agent.network);
  return { cfg, client: new BondClient(cfg.chain, cfg.agent.network, key) };
}

function amountFlag(): bigint | undefined {
  if (values.amount === undefined) return undefined;
  if (!/^\d+$/.test(values.amount) || BigInt(values.amount) === 0n)
    throw new ConfigError(`--amount must be a whole number of micro-STX above 0, got "${values.amount}"`);
  return BigInt(values.amount);
}

async function bond() {
  const { cfg, client } = bondClient();
  const amount = amountFlag();
  const current = await client.getNode();
  if (current?.status === 'active' && amount !== undefined) {
    const { txid } = await client.bond(amount);
    console.log(`added ${amount} micro-STX (tx ${txid}); stake now ${(await client.getNode())?.stake}`);
    return;
  }
  if (current?.status === 'active') {
    console.log(`already bonded: ${current.stake} micro-STX in ${client.escrow}; --amount N adds to it`);
    return;
  }
  const bonded = await ensureBond(client, amount ?? BigInt(cfg.chain.stake), (e) => {
    if (e.kind === 'bonding')
      console.log(`bonding ${e.amount} micro-STX from ${client.key.address} in ${client.escrow} ...`);
  });
  console.log(`bonded: ${bonded.stake} micro-STX; node-agent run registers this key with the signer`);
}

async function unbond() {
  const { client } = bondClient();
  const current = await client.getNode();
  if (current?.status !== 'active')
    throw new BondError(
      current
        ? `the key is ${current.status} already (withdraw-at block ${current.withdrawAt})`
        : 'the key has no bond to unbond',
    );
  const { txid, result } = await client.unbond();
  const at =
    result.type === ClarityType.ResponseOk && result.value.type === ClarityType.UInt ? String(result.value.value) : '?';
  console.log(
    `unbonding (tx ${txid}): the signer gives this node no more tasks; node-agent withdraw pays the ${current.stake} micro-STX back from block ${at}`,
  );
}

async function withdraw() {
  const { client } = bondClient();
  const current = await client.getNode();
  if (!current) throw new BondError('the key has no stake to withdraw');
  if (current.status === 'active')
    throw new BondError('the key is still bonded: run node-agent unbond first, then withdraw after the delay');
  const tip = await client.tipHeight();
  if (BigInt(tip) < current.withdrawAt)
    throw new BondError(
      `the stake is withdrawable from block ${current.withdrawAt}; the chain is at ${tip} (${current.withdrawAt - BigInt(tip)} blocks to go)`,
    );
  const { txid } = await client.withdraw(current.stake);
  console.log(`withdrew ${current.stake} micro-STX to ${client.key.address} (tx ${txid})`);
}

async function status() {
  const { cfg, client } = bondClient();
  const [current, balance, min] = await Promise.all([client.getNode(), client.balance(), client.minStake()]);
  console.log(`node address    ${client.key.address}`);
  console.log(`public key      ${client.key.publicKey}`);
  console.log(`balance         ${balance} micro-STX`);
  console.log(`escrow          ${client.escrow} (minimum stake ${min} micro-STX)`);
  if (!current) {
    console.log(
      `bond            none: node-agent run (or bond) bonds ${cfg.chain.stake > 0 ? cfg.chain.stake : min} micro-STX`,
    );
    if (balance === 0n)
      console.log(`                the address holds no STX; ${fundingHint(cfg.agent.network, client.key.address)}`);
    return;
  }
  console.log(
    `bond            ${current.status}, stake ${current.stake} micro-STX${current.status === 'active' ? '' : `, withdrawable from block ${current.withdrawAt}`}`,
  );
}

function payeeClient(): { cfg: AgentConfig; client: PayeeClient } {
  const cfg = config();
  const key = loadOrCreateKey(expandHome(cfg.agent.key_file), cfg.agent.network);
  return { cfg, client: new PayeeClient(cfg, key) };
}

async function claim() {
  const { client } = payeeClient();
  const { amount, txid } = await client.claim();
  console.log(`claimed ${amount} micro-STX from ${client.contract} to ${client.key.address} (tx ${txid})`);
}

async function voucher() {
  const { cfg, client } = payeeClient();
  const file = values.file ?? voucherFileOf(cfg);
  const v = await client.fetchVoucher(cfg.agent.signer);
  const [signer, payee, tip, accounts] = await Promise.all([
    client.signer(),
    client.payee(),
    client.tipHeight(),
    client.accountsConfig(),
  ]);
  const credited = payee?.credited ?? 0n;
  let saved = null;
  try {
    saved = loadVoucher(file, client, signer.key);
  } catch {
    saved = null;
  }
  const kept = keepSaved(saved, credited, BigInt(tip), accounts.disputeWindow);
  if (!kept) saveVoucher(file, v);
  console.log(`voucher from the signer, signed by the settler key ${signer.key} (checked)`);
  console.log(`payee           ${v.voucher.payee}`);
  console.log(
    `owed            ${v.voucher.cumulative} micro-STX (cumulative), to be credited by block ${v.voucher.settleBy} (chain at ${tip})`,
  );
  console.log(`credited        ${credited} micro-STX on chain; claimable ${payee?.claimable ?? 0n} (node-agent claim)`);
  console.log(
    `signer bond     ${signer.bond} micro-STX${signer.unlockAt > 0n ? `, BEING WITHDRAWN (unlocks at block ${signer.unlockAt})` : ''}`,
  );
  if (kept)
    console.log(
      `kept ${file}: it holds an unhonoured voucher for ${saved!.voucher.cumulative} due by block ${saved!.voucher.settleBy}; node-agent challenge-voucher sends it after that block`,
    );
  else console.log(`saved to ${file}`);
  if (v.voucher.cumulative - credited > signer.bond)
    console.log(
      `warning: the signer's bond (${signer.bond}) is below what it owes this key (${v.voucher.cumulative - credited})`,
    );
}

async function challengeVoucher() {
  const { cfg, client } = payeeClient();
  const file = values.file ?? voucherFileOf(cfg);
  const signer = await client.signer();
  const v = loadVoucher(file, client, signer.key);
  if (!v) throw new BondError(`no voucher at ${file}: node-agent voucher fetches and saves one`);
  const { txid, paid } = await client.challenge(v);
  console.log(
    `voucher challenged (tx ${txid}): ${paid} micro-STX from the signer's bond is claimable now (node-agent claim)`,
  );
}

const commands: Record<string, () => unknown> = {
  run,
  keygen,
  models,
  bench,
  bond,
  unbond,
  withdraw,
  status,
  claim,
  voucher,
  'challenge-voucher': challengeVoucher,
};
const command = positionals[0];
if (values.help || !command || !commands[command]) {
  console.log(USAGE);
  process.exit(values.help ? 0 : 2);
}
try {
  await commands[command]!();
} catch (err) {
  if (err instanceof BondError) {
    console.error(`node-agent ${command}: ${(err as Error).message}`);
    process.exit(1);
  }
  if (err instanceof ConfigError || (err as Error).message.startsWith('key file')) {
    console.error((err as Error).message);
    process.exit(2);
  }
  throw err;
}
