/**
 * `npm run bench:signer`: the signer's HTTP throughput and memory on loopback.
 *
 * A database with 100,000 tasks is prepared (as the chain watcher would ingest them, with the
 * ones needed for completions leased to one node), then `signer run` is started as its own
 * process and driven with autocannon:
 * - status reads/s (random task ids, 32 connections, 10 s);
 * - completions/s (10,000 pre-signed results: request signature + SIP-018 result signature,
 *   each checked by the signer, output hash recomputed, one SQL transaction each);
 * - p50/p99 latency of reads and of completions at a fixed 500 requests/s;
 * - resident memory of the signer process with the 100,000 tasks stored;
 * - the signer process's CPU per read and per completion (all its threads), which a busy shared
 *   machine changes far less than it changes the rates.
 * BENCH_SIGNER_PROFILE=dir runs the capped suite only, the signer writing a CPU profile (node --cpu-prof) there.
 * The suite runs twice on copies of one prepared database: the signer as `npm run signer` starts
 * it (compiled by scripts/build-signer.ts, node's old space capped at 128 MB), and without that cap
 * (V8 then lets garbage pile up). BENCH_SIGNER_BASELINE=dir first runs the capped suite with the
 * signer of another checkout (e.g. `git archive` of an older commit, with a node_modules) under tsx,
 * as it ran before it was compiled: an A/B in one run, reported as ratios, on a shared machine.
 * BENCH_SIGNER_PREPARED=dir keeps the prepared database (with the node key it leases to) in dir and
 * reuses it on the next run: preparing takes one to several minutes.
 * Writes bench/results/signer.json. Goals (issue 4): >= 3,000 reads/s, >= 1,000 completions/s,
 * p99 < 50 ms at 500/s, RSS <= 150 MB.
 */
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import pino from 'pino';
import { compressPublicKey, privateKeyToPublic, randomPrivateKey } from '@stacks/transactions';
import { NODE_AUTH_HEADERS, jsonHash, sha256Hex, signNodeRequest, signTaskResult } from '../protocol/index.js';
import { createServices, openDatabase, resolveConfig } from '../signer/index.js';
import { ingest } from '../signer/chain/watcher.js';
import { registerNode } from '../signer/nodes/index.js';
import { leaseUpTo } from '../signer/tasks/scheduler.js';
import { buildSigner } from '../scripts/build-signer.js';

/** The part of autocannon's API used here (the package ships no types). */
interface AutocannonResult {
  requests: { total: number };
  duration: number;
  latency: { p50: number; p90: number; p99: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
const autocannon = createRequire(import.meta.url)('autocannon') as (
  opts: Record<string, unknown>,
) => Promise<AutocannonResult>;

const ROOT = new URL('..', import.meta.url).pathname;
const TASKS = 100_000;
const FAST_COMPLETIONS = 10_000;
const RATE = 500;
const RATE_SECONDS = 10;
const ESCROW = 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.inference-escrow';
const CHAIN_ID = 0x80000000;
const ARTIFACT = sha256Hex('bench-model.onnx');
const say = (s: string) => process.stdout.write(`${s}\n`);

const dir = mkdtempSync(join(tmpdir(), 'signer-bench-'));
const dbPath = join(dir, 'signer.db');
const basePath = join(dir, 'prepared.db');
const settings = {
  server: { port: 0 },
  database: { path: dbPath },
  scheduler: { max_in_flight_per_node: 1_000_000, max_infer_time_ms: 3_600_000, prefer_better_node_ms: 0 },
  network: { heartbeat_timeout_ms: 3_600_000 },
  auth: { timestamp_window_ms: 300_000 },
  log: { level: 'warn' as const },
};
const cacheDir = process.env.BENCH_SIGNER_PREPARED;
const cached = cacheDir && existsSync(join(cacheDir, 'prepared.json'));
const prepared = cached
  ? (JSON.parse(readFileSync(join(cacheDir, 'prepared.json'), 'utf8')) as { key: string; leased: Leased[] })
  : null;
const key = prepared?.key ?? randomPrivateKey();
const nodeId = 'bench-node';

/** A task the prepared database leases to the bench node. */
type Leased = { task_id: string; input_hash: string };

/** Fills the database: 100,000 tasks, the ones to complete leased to the bench node. */
function prepare(leases: number): Leased[] {
  const store = openDatabase(dbPath);
  const s = createServices({ config: resolveConfig(settings), store, log: pino({ level: 'silent' }), escrow: ESCROW });
  registerNode(
    store,
    {
      node_id: nodeId,
      endpoint: '',
      public_key: compressPublicKey(privateKeyToPublic(key)),
      supported_models: [ARTIFACT],
      performance_score: 10,
    },
    10,
  );
  for (let start = 1; start <= TASKS; start += 1000) {
    const events = Array.from({ length: 1000 }, (_, i) => {
      const id = BigInt(start + i);
      return {
        chainTaskId: id,
        requester: 'ST2CY5V39NHDPWSXMW9QDT3HC3GD6Q6XX4CFRK9AG',
        modelOutput: 1n,
        model: 'bench',
        artifactHash: ARTIFACT,
        inputHash: sha256Hex(`in-${id}`),
        fee: 1000n,
        deadline: 1_000_000n,
        privacy: 0,
        priority: 0,
        security: 1,
        precision: 0,
        sampleBps: 0,
        txid: sha256Hex(`tx-${id}`),
        blockHeight: 1,
        eventIndex: Number(id),
      };
    });
    ingest(s, events, String(start + 999), Date.now() - 60_000);
  }
  // Leased 500 per transaction: one at a time took minutes.
  const leased: Leased[] = [];
  while (leased.length < leases) leased.push(...leaseUpTo(s, nodeId, Math.min(500, leases - leased.length)));
  // One self-contained file, so that it can be copied for each run.
  store.sqlite.pragma('wal_checkpoint(TRUNCATE)');
  void s.verifier.close();
  store.close();
  return leased;
}

/** A pre-signed POST /api/v1/tasks/complete, as a node agent sends it. */
function signedCompletion(task: { task_id: string; input_hash: string }) {
  const output = { outputs: [{ name: 'y', shape: [2], datatype: 'FP32', data: [0.25, 0.75] }] };
  const output_hash = jsonHash(output);
  const signature = signTaskResult(
    { escrow: ESCROW, taskId: BigInt(task.task_id), inputHash: task.input_hash, outputHash: output_hash },
    CHAIN_ID,
    key,
  );
  const body = JSON.stringify({
    task_id: task.task_id,
    output,
    confidence: 0.9,
    inference_node_id: nodeId,
    output_hash,
    signature,
  });
  const path = '/api/v1/tasks/complete';
  const timestamp = Date.now();
  const sig = signNodeRequest({ method: 'POST', path, bodyHash: sha256Hex(body), timestamp }, CHAIN_ID, key);
  return {
    method: 'POST' as const,
    path,
    body,
    headers: {
      'content-type': 'application/json',
      [NODE_AUTH_HEADERS.node]: nodeId,
      [NODE_AUTH_HEADERS.timestamp]: String(timestamp),
      [NODE_AUTH_HEADERS.signature]: sig,
    },
  };
}

/** How a suite starts the signer: as shipped (compiled), or the sources of another checkout under tsx. */
type Launch = { kind: 'shipped' } | { kind: 'tsx'; tree: string };

async function startSignerProcess(
  nodeFlags: string[],
  launch: Launch,
): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  writeFileSync(
    join(dir, 'signer.toml'),
    `[server]\nport = 0\n[database]\npath = "${dbPath}"\n[scheduler]\nmax_in_flight_per_node = 1000000\nmax_infer_time_ms = 3600000\n[network]\nheartbeat_timeout_ms = 3600000\n[auth]\ntimestamp_window_ms = 300000\n[log]\nlevel = "warn"\n`,
  );
  const entry = launch.kind === 'shipped' ? [await buildSigner()] : ['--import', 'tsx', 'signer/cli.ts'];
  const proc = spawn(process.execPath, [...nodeFlags, ...entry, 'run', '--config', join(dir, 'signer.toml')], {
    cwd: launch.kind === 'shipped' ? ROOT : launch.tree,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /signer listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    proc.once('exit', (code) => reject(new Error(`signer exited (${code}) before listening: ${out}`)));
  });
  return {
    url,
    pid: proc.pid!,
    stop: () =>
      new Promise((resolve) => {
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

/** CPU time (ms, user + system, all threads) the process has used so far, from /proc (Linux): robust to a shared machine's load, unlike rates. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function memoryMB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)![1]);
  return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
}

/** The signer's own view of its JS heap, from /metrics. */
async function heapUsedMB(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Math.round(Number(/^signer_nodejs_heap_size_used_bytes (\S+)/m.exec(text)![1]) / 1048576);
}

type Req = { method: 'GET' | 'POST'; path: string; body?: string; headers?: Record<string, string> };

async function run(
  url: string,
  opts: { next: () => Req; amount?: number; duration?: number; rate?: number; connections?: number },
) {
  const result = await autocannon({
    url,
    connections: opts.connections ?? 32,
    ...(opts.amount ? { amount: opts.amount } : { duration: opts.duration ?? 10 }),
    ...(opts.rate ? { overallRate: opts.rate } : {}),
    requests: [{ setupRequest: (req: Record<string, unknown>) => ({ ...req, ...opts.next() }) }],
  });
  const errors = result.non2xx + result.errors + result.timeouts;
  return {
    requests: result.requests.total,
    perSecond: Math.round(result.requests.total / (result.duration || 1)),
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    failed: errors,
  };
}

/** One full run against a fresh copy of the prepared database, the signer started with `nodeFlags`. */
async function suite(nodeFlags: string[], fastLeases: Leased[], slowLeases: Leased[], launch: Launch) {
  for (const f of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`]) rmSync(f, { force: true });
  copyFileSync(basePath, dbPath);
  // The 1-minute load when the suite starts: suites of one run compare fairly only under similar loads.
  const loadAtStart = Number(loadavg()[0]!.toFixed(2));
  const signer = await startSignerProcess(nodeFlags, launch);
  const idle = memoryMB(signer.pid);
  // Signed only now: the signer refuses requests signed before it started (its replay cache is in memory).
  const t = performance.now();
  const fast = fastLeases.map(signedCompletion);
  const slow = slowLeases.map(signedCompletion);
  say(`signed ${fast.length + slow.length} completions in ${Math.round(performance.now() - t)} ms`);
  const randomStatus = (): Req => ({
    method: 'GET',
    path: `/api/v1/tasks/${1 + Math.floor(Math.random() * TASKS)}/status`,
  });
  const label = `${launch.kind === 'tsx' ? `baseline ${launch.tree}, ` : ''}${nodeFlags.join(' ') || 'default node flags'}`;
  await run(signer.url, { next: randomStatus, duration: 2 }); // warm-up
  let cpu = cpuMs(signer.pid);
  const reads = await run(signer.url, { next: randomStatus, duration: 10 });
  const readCpuMs = (cpuMs(signer.pid) - cpu) / reads.requests;
  say(
    `[${label}] status reads: ${reads.perSecond}/s, p99 ${reads.latencyMs.p99} ms, failed ${reads.failed}, signer CPU ${readCpuMs.toFixed(3)} ms each`,
  );
  let i = 0;
  cpu = cpuMs(signer.pid);
  const completions = await run(signer.url, { next: () => fast[i++], amount: fast.length });
  const completionCpuMs = (cpuMs(signer.pid) - cpu) / completions.requests;
  say(
    `[${label}] completions: ${completions.perSecond}/s, p99 ${completions.latencyMs.p99} ms, failed ${completions.failed}, signer CPU ${completionCpuMs.toFixed(3)} ms each`,
  );
  const readsAtRate = await run(signer.url, {
    next: randomStatus,
    duration: RATE_SECONDS,
    rate: RATE,
    connections: 16,
  });
  let j = 0;
  const completionsAtRate = await run(signer.url, {
    next: () => slow[j++],
    amount: slow.length,
    rate: RATE,
    connections: 16,
  });
  say(
    `[${label}] at ${RATE}/s: reads p99 ${readsAtRate.latencyMs.p99} ms, completions p99 ${completionsAtRate.latencyMs.p99} ms`,
  );
  const stats = (await (await fetch(`${signer.url}/api/v1/stats`)).json()) as {
    data: { total_tasks: number; completed_tasks: number };
  };
  const memory = { idleAtStart: idle.rss, ...memoryMB(signer.pid), heapUsed: await heapUsedMB(signer.url) };
  say(
    `[${label}] memory with ${stats.data.total_tasks} tasks: RSS ${memory.rss} MB (idle at start ${memory.idleAtStart} MB, peak ${memory.peak} MB, JS heap ${memory.heapUsed} MB)`,
  );
  await signer.stop();
  return {
    nodeFlags,
    launch,
    loadAtStart,
    tasksStored: stats.data.total_tasks,
    statusReads: { ...reads, signerCpuMsEach: readCpuMs },
    completions: { ...completions, accepted: stats.data.completed_tasks, signerCpuMsEach: completionCpuMs },
    atFixedRate: { rate: RATE, seconds: RATE_SECONDS, statusReads: readsAtRate, completions: completionsAtRate },
    memoryMB: memory,
  };
}

function goals(r: Awaited<ReturnType<typeof suite>>) {
  const p99 = Math.max(r.atFixedRate.statusReads.latencyMs.p99, r.atFixedRate.completions.latencyMs.p99);
  return {
    readsPerSecond: { goal: 3000, measured: r.statusReads.perSecond, met: r.statusReads.perSecond >= 3000 },
    completionsPerSecond: { goal: 1000, measured: r.completions.perSecond, met: r.completions.perSecond >= 1000 },
    p99At500: {
      goalMs: 50,
      readsMs: r.atFixedRate.statusReads.latencyMs.p99,
      completionsMs: r.atFixedRate.completions.latencyMs.p99,
      met: p99 < 50,
    },
    rss: { goalMB: 150, measuredMB: r.memoryMB.rss, met: r.memoryMB.rss <= 150 },
  };
}

/** The node heap flags (--max-...) of a tree's `npm run signer`: the bench runs the signer as shipped. */
function signerHeapFlags(tree: string): string[] {
  const pkg = JSON.parse(readFileSync(join(tree, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  return pkg.scripts.signer!.match(/--max-[a-z-]+=\d+/g) ?? [];
}

/** New over baseline from one run (below 1 is better for CPU, latency and memory; above 1 for rates). */
/** One suite's figures. */
type Suite = Awaited<ReturnType<typeof suite>>;

function ratios(r: Suite, base: Suite) {
  const ratio = (a: number, b: number) => Number((a / b).toFixed(3));
  return {
    completionsPerSecond: ratio(r.completions.perSecond, base.completions.perSecond),
    completionCpuMsEach: ratio(r.completions.signerCpuMsEach, base.completions.signerCpuMsEach),
    completionP99At500: ratio(r.atFixedRate.completions.latencyMs.p99, base.atFixedRate.completions.latencyMs.p99),
    readsPerSecond: ratio(r.statusReads.perSecond, base.statusReads.perSecond),
    readCpuMsEach: ratio(r.statusReads.signerCpuMsEach, base.statusReads.signerCpuMsEach),
    rss: ratio(r.memoryMB.rss, base.memoryMB.rss),
    idleRss: ratio(r.memoryMB.idleAtStart, base.memoryMB.idleAtStart),
  };
}

/** Runs the uncapped suite and writes bench/results/signer.json. */
async function report(asShipped: Suite, baseline: Suite | undefined, fast: Leased[], slow: Leased[]): Promise<void> {
  const uncappedHeap = await suite([], fast, slow, { kind: 'shipped' });
  const out = {
    generatedAt: new Date().toISOString(),
    tool: 'autocannon over loopback against `signer run` in its own process (compiled: scripts/build-signer.ts), 100,000 tasks stored',
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model,
      node: process.version,
      loadAverage: loadavg().map((l) => Number(l.toFixed(2))),
      note: 'cores shared with other work; figures vary run to run',
    },
    memoryNote:
      'the signer runs compiled on plain node: under tsx, its loader (a hooks worker thread) added about 38 MB (77 vs 39 MB for an empty script)',
    runs: { asShipped, uncappedHeap, ...(baseline ? { baseline } : {}) },
    goals: { asShipped: goals(asShipped), uncappedHeap: goals(uncappedHeap) },
    ...(baseline ? { asShippedOverBaseline: ratios(asShipped, baseline) } : {}),
  };
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/signer.json'), `${JSON.stringify(out, null, 2)}\n`);
  say('wrote bench/results/signer.json');
}

try {
  const leases = FAST_COMPLETIONS + RATE * RATE_SECONDS;
  const t = performance.now();
  let leased: Leased[];
  if (prepared && cacheDir) {
    leased = prepared.leased;
    copyFileSync(join(cacheDir, 'prepared.db'), basePath);
  } else {
    leased = prepare(leases);
    renameSync(dbPath, basePath);
    if (cacheDir) {
      mkdirSync(cacheDir, { recursive: true });
      copyFileSync(basePath, join(cacheDir, 'prepared.db'));
      writeFileSync(join(cacheDir, 'prepared.json'), JSON.stringify({ key, leased }));
    }
  }
  say(`prepared ${TASKS} tasks (${leases} leased) in ${Math.round(performance.now() - t)} ms`);
  const fast = leased.slice(0, FAST_COMPLETIONS);
  const slow = leased.slice(FAST_COMPLETIONS);
  // The signer as `npm run signer` runs it (its heap flags), then without them for comparison.
  const profile = process.env.BENCH_SIGNER_PROFILE
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_SIGNER_PROFILE}`]
    : [];
  const capped = signerHeapFlags(ROOT);
  const tree = process.env.BENCH_SIGNER_BASELINE;
  const baseline =
    tree && !profile.length ? await suite(signerHeapFlags(tree), fast, slow, { kind: 'tsx', tree }) : undefined;
  const asShipped = await suite([...capped, ...profile], fast, slow, { kind: 'shipped' });
  // A profiling run stops here; the finally below still removes its databases.
  if (!profile.length) await report(asShipped, baseline, fast, slow);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
