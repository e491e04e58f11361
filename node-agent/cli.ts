/**
 * `node-agent run | keygen | models | bench`: the node operator's whole experience.
 *   run     register with the signer, pull tasks, compute, sign and post them
 *   keygen  create (or show) the node key and its payout address
 *   models  list the models this node would serve, with their sha256
 *   bench   measure this machine; the score is stored beside the key and registered by `run`
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import {
  ConfigError,
  DEFAULT_MODELS,
  DynamicBatcher,
  WorkerPool,
  benchFileOf,
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

const USAGE = `usage: node-agent <command> [options]

commands:
  run      --signer URL --key FILE --models DIR [--node-id ID] [--config FILE]
  keygen   [--key FILE] [--config FILE]      create the key (0600) if missing; print the payout address
  models   [--models DIR] [--config FILE]    list served models with their sha256
  bench    [--seconds N] [--config FILE]     measure this machine; derive the performance_score

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
    seconds: { type: 'string', default: '5' },
    help: { type: 'boolean', short: 'h' },
  },
});

function config(): AgentConfig {
  const file = values.config ?? (existsSync('config/node-agent.toml') ? 'config/node-agent.toml' : undefined);
  return loadConfig(file, { signer: values.signer, key: values.key, models: values.models, nodeId: values['node-id'] });
}

async function run() {
  const cfg = config();
  const log = pino({ name: 'node-agent' });
  const running = await startAgent(cfg, log);
  console.error(`node ${running.nodeId}: payout address ${running.key.address}; serving ${running.store.served().length} model(s); signer ${cfg.agent.signer}`);
  if (running.store.served().length === 0) console.error('warning: this node serves no model, so the signer will give it no task; see `node-agent models`');
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
  const { models: found, refused } = await scanModels(modelSpecs(cfg), cfg.agent.models_dir ? expandHome(cfg.agent.models_dir) : '');
  for (const m of found) console.log(`${m.artifactHash}  ${m.name}  ${m.path}`);
  for (const r of refused) console.log(`REFUSED  ${r.path}: ${r.reason}`);
  if (found.length === 0) console.log('no models: add [[models]] to the config or put .onnx files in --models');
}

async function bench() {
  const cfg = config();
  const seconds = Number(values.seconds);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new ConfigError(`--seconds must be a positive number, got "${values.seconds}"`);
  const pool = await WorkerPool.start({ workers: cfg.runtime.workers, intraOpThreads: cfg.runtime.intra_op_threads, engine: cfg.runtime.engine });
  const batcher = new DynamicBatcher(pool, { maxBatch: cfg.runtime.max_batch, maxQueueDelayMs: cfg.runtime.max_queue_delay_ms });
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
      console.log(`${m.name}: ${r.inferences_per_s} inferences/s, p50 ${r.p50_ms} ms, p95 ${r.p95_ms} ms, mean batch ${r.mean_batch}`);
    }
  } finally {
    batcher.close();
    await pool.close();
  }
  const score = performanceScore(classifierIps);
  const file = benchFileOf(cfg);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), performance_score: score, workers: pool.size, intra_op_threads: pool.intraOpThreads, results }, null, 2) + '\n');
  console.log(`performance_score ${score} (100 = ${REFERENCE_CLASSIFIER_IPS} classifier inferences/s); saved to ${file}`);
}

const commands: Record<string, () => unknown> = { run, keygen, models, bench };
const command = positionals[0];
if (values.help || !command || !commands[command]) {
  console.log(USAGE);
  process.exit(values.help ? 0 : 2);
}
try {
  await commands[command]!();
} catch (err) {
  if (err instanceof ConfigError || (err as Error).message.startsWith('key file')) {
    console.error((err as Error).message);
    process.exit(2);
  }
  throw err;
}
