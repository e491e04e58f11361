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
 * BENCH_SIGNER_QUICK=1 runs the capped suite's completions only (no reads, no uncapped or PostgreSQL suite) and
 * writes no file: for comparing changes by the CPU per completion, split by the signer's threads; with a
 * baseline it alternates baseline and shipped suites BENCH_SIGNER_ROUNDS times (2 by default).
 * The suite runs twice on copies of one prepared database: the signer as `npm run signer` starts
 * it (compiled by scripts/build-signer.ts, node's old space capped at 128 MB), and without that cap
 * (V8 then lets garbage pile up). BENCH_SIGNER_BASELINE=dir first runs the capped suite with the
 * signer of another checkout (e.g. `git archive` of an older commit, with a node_modules), compiled by
 * its own scripts/build-signer.ts if it has one, else under tsx as it ran before: an A/B in one run, reported as ratios, on a shared machine.
 * BENCH_SIGNER_PREPARED=dir keeps the prepared database (with the node key it leases to) in dir and
 * reuses it on the next run: preparing takes one to several minutes.
 * `--database postgres` (issue 15) adds the same suite on PostgreSQL (a throwaway server,
 * tests/pg/server.ts, the prepared database copied in by `signer db copy`'s code and cloned for each
 * suite) with one replica, then with three `signer run` processes on one database, the load spread
 * over them (each bench node completes through one replica, as a node talks to one). On a 2-core
 * machine three replicas cannot add throughput: the figure to read is the CPU per request (each
 * replica's, and the PostgreSQL server's), which says what a replica costs.
 * Writes bench/results/signer.json. Goals (issue 4): >= 3,000 reads/s, >= 1,000 completions/s,
 * p99 < 50 ms at 500/s, RSS <= 150 MB.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { compressPublicKey, privateKeyToPublic, randomPrivateKey } from '@stacks/transactions';
import { NODE_AUTH_HEADERS, jsonHash, sha256Hex, signNodeRequest, signTaskResult } from '../protocol/index.js';
import { createServices, openDatabase, resolveConfig } from '../signer/index.js';
import { ingest } from '../signer/chain/watcher.js';
import { registerNode } from '../signer/nodes/index.js';
import { leaseUpTo } from '../signer/tasks/scheduler.js';
import { buildSigner } from '../scripts/build-signer.js';
import { benchPostgres, merge, type BenchPostgres, type RunFigures } from './signer-cluster.js';
import { pgBinaries } from '../tests/pg/server.js';

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
const { values: args } = parseArgs({ options: { database: { type: 'string', default: 'sqlite' } } });
if (args.database !== 'sqlite' && args.database !== 'postgres')
  throw new Error(`--database ${args.database}: expected sqlite (the default) or postgres`);
/** Completions only, capped suite only, no file (see BENCH_SIGNER_QUICK above). */
const QUICK = process.env.BENCH_SIGNER_QUICK === '1';
/** Replicas of the PostgreSQL suite that spreads the load. */
const REPLICAS = 3;

/** How long the prepared leases (and the bench nodes' last heartbeat) last: 30 days. */
const LEASE_MS = 30 * 24 * 3_600_000;
const dir = mkdtempSync(join(tmpdir(), 'signer-bench-'));
const dbPath = join(dir, 'signer.db');
const basePath = join(dir, 'prepared.db');
const settings = {
  server: { port: 0 },
  database: { path: dbPath },
  // Leases that outlive a prepared database kept for later runs (BENCH_SIGNER_PREPARED): with an hour, a
  // cache older than that held only expired leases, and every completion was refused (409).
  scheduler: { max_in_flight_per_node: 1_000_000, max_infer_time_ms: LEASE_MS, prefer_better_node_ms: 0 },
  network: { heartbeat_timeout_ms: LEASE_MS },
  auth: { timestamp_window_ms: 300_000 },
  log: { level: 'warn' as const },
};
const cacheDir = process.env.BENCH_SIGNER_PREPARED;
const cached = cacheDir && existsSync(join(cacheDir, 'prepared.json'));
/** A task the prepared database leases to a bench node. */
type Leased = { task_id: string; input_hash: string };
/** A node that completes its leased tasks: the first through every single-replica suite, each through its own replica when the load is spread. */
type BenchNode = { id: string; key: string; leased: Leased[] };
const prepared = cached
  ? (JSON.parse(readFileSync(join(cacheDir, 'prepared.json'), 'utf8')) as { nodes?: BenchNode[]; leaseMs?: number })
  : null;
// A cache whose leases were shorter (an hour, before) is prepared again: they may have expired.
if (prepared && (prepared.leaseMs ?? 0) < LEASE_MS) prepared.nodes = undefined;
// A cache of the one-node format of before is prepared again.
const nodes: BenchNode[] =
  prepared?.nodes ??
  Array.from({ length: REPLICAS }, (_, i) => ({
    id: i ? `bench-node-${i + 1}` : 'bench-node',
    key: randomPrivateKey(),
    leased: [],
  }));

/** The leases of `n` requests among `parts`: part i's share (the first parts take the remainder). */
const share = (n: number, parts: number, i: number) => Math.floor(n / parts) + (i < n % parts ? 1 : 0);

/**
 * Fills the database: 100,000 tasks; the first node leased what the single-replica suites complete,
 * each other node its share of what the spread suite completes.
 */
function prepare(leases: number): void {
  const store = openDatabase(dbPath);
  const s = createServices({ config: resolveConfig(settings), store, log: pino({ level: 'silent' }), escrow: ESCROW });
  for (const node of nodes)
    registerNode(
      store,
      {
        node_id: node.id,
        endpoint: '',
        public_key: compressPublicKey(privateKeyToPublic(node.key)),
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
  for (const [i, node] of nodes.entries()) {
    const n = i === 0 ? leases : share(leases, nodes.length, i);
    while (node.leased.length < n) node.leased.push(...leaseUpTo(s, node.id, Math.min(500, n - node.leased.length)));
  }
  // One self-contained file, so that it can be copied for each run.
  store.sqlite.pragma('wal_checkpoint(TRUNCATE)');
  void s.verifier.close();
  store.close();
}

/** A pre-signed POST /api/v1/tasks/complete, as a node agent sends it. */
function signedCompletion({ id: nodeId, key }: BenchNode, task: Leased) {
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

/** Starts `signer run` on `database` (a SQLite file or a postgres:// URL) on a free port. */
async function startSignerProcess(
  nodeFlags: string[],
  launch: Launch,
  database: string,
  entry: string[],
): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  writeFileSync(
    join(dir, 'signer.toml'),
    `[server]\nport = 0\n[scheduler]\nmax_in_flight_per_node = 1000000\nmax_infer_time_ms = ${LEASE_MS}\n[network]\nheartbeat_timeout_ms = ${LEASE_MS}\n[auth]\ntimestamp_window_ms = 300000\n[log]\nlevel = "warn"\n`,
  );
  const argv = ['run', '--config', join(dir, 'signer.toml'), '--database', database];
  const proc = spawn(process.execPath, [...nodeFlags, ...entry, ...argv], {
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

/**
 * CPU time (ms) of each of the process's threads so far (/proc/<pid>/task, Linux): `main`, and the others
 * as `t<n>`, n their thread id less the process id, in the order they started (node names them all
 * "node"): V8's GC and compiler helpers first, then libuv's pool and worker threads (the verifier's).
 */
function threadCpuMs(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const fields = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      out[tid === String(pid) ? 'main' : `t${Number(tid) - pid}`] = (Number(fields[11]) + Number(fields[12])) * 10;
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/** Each thread group's CPU ms per request between two `threadCpuMs` readings (largest first). */
function threadCpuEach(before: Record<string, number>, after: Record<string, number>, requests: number) {
  return Object.fromEntries(
    Object.entries(after)
      .map(([name, ms]) => [name, Number(((ms - (before[name] ?? 0)) / requests).toFixed(3))] as const)
      .filter(([, ms]) => ms > 0)
      .sort((a, b) => b[1] - a[1]),
  );
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

/**
 * `run` against each replica at once, each with its share of the connections and the rate, and its
 * own requests (`next(i)`, `amounts[i]` of them): merged (one replica: that run as it is).
 */
async function spread(
  urls: string[],
  opts: { next: (replica: number) => Req; amounts?: number[]; duration?: number; rate?: number; connections?: number },
): Promise<RunFigures> {
  const n = urls.length;
  const runs = urls.map((url, i) =>
    run(url, {
      next: () => opts.next(i),
      amount: opts.amounts?.[i],
      duration: opts.duration,
      rate: opts.rate && opts.rate / n,
      connections: Math.ceil((opts.connections ?? 32) / n),
    }),
  );
  return merge(await Promise.all(runs));
}

/** How a suite runs the signer: node flags and launch, the database, and how many replicas share it. */
interface SuiteSpec {
  nodeFlags: string[];
  launch: Launch;
  database: 'sqlite' | 'postgres';
  replicas: number;
}

/**
 * How a baseline tree's signer starts: compiled by its own scripts/build-signer.ts where it has one
 * (as its `npm run signer` runs it), else its sources under tsx (as it ran before it was compiled).
 */
function baselineEntry(tree: string): string[] {
  if (!existsSync(join(tree, 'scripts/build-signer.ts'))) return ['--import', 'tsx', 'signer/cli.ts'];
  const built = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/build-signer.ts'], {
    cwd: tree,
    encoding: 'utf8',
  });
  if (built.status !== 0) throw new Error(`building the baseline signer in ${tree} failed: ${built.stderr}`);
  return [built.stdout.trim()];
}

/** One full run against a fresh copy of the prepared database, on `spec.replicas` signer processes. */
async function suite(spec: SuiteSpec, pg?: BenchPostgres) {
  const { nodeFlags, launch, replicas } = spec;
  let location = dbPath;
  if (spec.database === 'postgres') location = await pg!.fresh();
  else {
    for (const f of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`]) rmSync(f, { force: true });
    copyFileSync(basePath, dbPath);
  }
  // The 1-minute load when the suite starts: suites of one run compare fairly only under similar loads.
  const loadAtStart = Number(loadavg()[0]!.toFixed(2));
  // Built once for all replicas: builds in one process at once would share one temporary file.
  const entry = launch.kind === 'shipped' ? [await buildSigner()] : baselineEntry(launch.tree);
  const signers: Awaited<ReturnType<typeof startSignerProcess>>[] = [];
  for (let i = 0; i < replicas; i++) signers.push(await startSignerProcess(nodeFlags, launch, location, entry));
  const urls = signers.map((s) => s.url);
  const idle = memoryMB(signers[0]!.pid);
  // Signed only now: a signer refuses requests signed before it started (on SQLite its replay cache is in memory).
  // Replica i takes node i's completions (a node talks to one replica); a single replica takes the first node's.
  const t = performance.now();
  const work = signers.map((_, i) => {
    const node = nodes[i]!;
    const fast = share(FAST_COMPLETIONS, replicas, i);
    const slow = share(RATE * RATE_SECONDS, replicas, i);
    return {
      fast: node.leased.slice(0, fast).map((task) => signedCompletion(node, task)),
      slow: node.leased.slice(fast, fast + slow).map((task) => signedCompletion(node, task)),
    };
  });
  say(`signed ${FAST_COMPLETIONS + RATE * RATE_SECONDS} completions in ${Math.round(performance.now() - t)} ms`);
  const randomStatus = (): Req => ({
    method: 'GET',
    path: `/api/v1/tasks/${1 + Math.floor(Math.random() * TASKS)}/status`,
  });
  const where = spec.database === 'postgres' ? `PostgreSQL, ${replicas} replica${replicas > 1 ? 's' : ''}, ` : '';
  const label = `${where}${launch.kind === 'tsx' ? `baseline ${launch.tree}, ` : ''}${nodeFlags.join(' ') || 'default node flags'}`;
  // CPU of every replica (all their threads), and of the PostgreSQL server when it is the database.
  const signerCpu = () => signers.reduce((a, s) => a + cpuMs(s.pid), 0);
  const serverCpu = () => (spec.database === 'postgres' ? pg!.cpuMs() : 0);
  const cpuEach = (since: { signer: number; server: number }, requests: number) => ({
    signerCpuMsEach: (signerCpu() - since.signer) / requests,
    ...(spec.database === 'postgres' ? { postgresCpuMsEach: (serverCpu() - since.server) / requests } : {}),
  });
  const cpuNow = () => ({ signer: signerCpu(), server: serverCpu() });
  const cpuText = (c: ReturnType<typeof cpuEach>) =>
    `signer CPU ${c.signerCpuMsEach.toFixed(3)} ms each${c.postgresCpuMsEach === undefined ? '' : `, PostgreSQL ${c.postgresCpuMsEach.toFixed(3)} ms`}`;
  // The quick run skips reads: its one figure is the CPU per completion.
  const readFor = (duration: number, extra: { rate?: number; connections?: number } = {}) =>
    QUICK
      ? Promise.resolve<RunFigures>({
          requests: 0,
          perSecond: 0,
          latencyMs: { p50: 0, p90: 0, p99: 0, max: 0 },
          failed: 0,
        })
      : spread(urls, { next: randomStatus, duration, ...extra });
  await readFor(2); // warm-up
  let cpu = cpuNow();
  const reads = await readFor(10);
  const readCpu = cpuEach(cpu, reads.requests || 1);
  if (!QUICK)
    say(
      `[${label}] status reads: ${reads.perSecond}/s, p99 ${reads.latencyMs.p99} ms, failed ${reads.failed}, ${cpuText(readCpu)}`,
    );
  const fastNext = work.map(() => 0);
  cpu = cpuNow();
  const threadsBefore = threadCpuMs(signers[0]!.pid);
  const completions = await spread(urls, {
    next: (i) => work[i]!.fast[fastNext[i]!++]!,
    amounts: work.map((w) => w.fast.length),
  });
  const completionCpu = cpuEach(cpu, completions.requests);
  // Per thread of the first replica (its share of the requests): which threads the CPU per completion goes to.
  const completionThreads = threadCpuEach(
    threadsBefore,
    threadCpuMs(signers[0]!.pid),
    share(FAST_COMPLETIONS, replicas, 0),
  );
  say(
    `[${label}] completions: ${completions.perSecond}/s, p99 ${completions.latencyMs.p99} ms, failed ${completions.failed}, ${cpuText(completionCpu)}; by thread ${JSON.stringify(completionThreads)}`,
  );
  const readsAtRate = await readFor(RATE_SECONDS, { rate: RATE, connections: 16 });
  const slowNext = work.map(() => 0);
  const completionsAtRate = await spread(urls, {
    next: (i) => work[i]!.slow[slowNext[i]!++]!,
    amounts: work.map((w) => w.slow.length),
    rate: RATE,
    connections: 16,
  });
  say(
    `[${label}] at ${RATE}/s: reads p99 ${readsAtRate.latencyMs.p99} ms, completions p99 ${completionsAtRate.latencyMs.p99} ms`,
  );
  const stats = (await (await fetch(`${urls[0]}/api/v1/stats`)).json()) as {
    data: { total_tasks: number; completed_tasks: number };
  };
  const memory = {
    idleAtStart: idle.rss,
    ...memoryMB(signers[0]!.pid),
    heapUsed: await heapUsedMB(urls[0]!),
    ...(replicas > 1 ? { replicasRss: signers.map((s) => memoryMB(s.pid).rss) } : {}),
  };
  say(
    `[${label}] memory with ${stats.data.total_tasks} tasks: RSS ${memory.rss} MB (idle at start ${memory.idleAtStart} MB, peak ${memory.peak} MB, JS heap ${memory.heapUsed} MB)`,
  );
  await Promise.all(signers.map((s) => s.stop()));
  return {
    nodeFlags,
    launch,
    ...(spec.database === 'postgres' ? { database: spec.database, replicas } : {}),
    loadAtStart,
    tasksStored: stats.data.total_tasks,
    statusReads: { ...reads, ...readCpu },
    completions: {
      ...completions,
      accepted: stats.data.completed_tasks,
      ...completionCpu,
      threadCpuMsEach: completionThreads,
    },
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

/** The shipped signer (node flags `nodeFlags`) on `database`, on `replicas` processes. */
const shipped = (nodeFlags: string[], database: SuiteSpec['database'] = 'sqlite', replicas = 1): SuiteSpec => ({
  nodeFlags,
  launch: { kind: 'shipped' },
  database,
  replicas,
});

/** CPU ms per request of a suite: each replica's (whichever served it) and, on PostgreSQL, the server's. */
function cost(r: Suite) {
  const each = (x: { signerCpuMsEach: number; postgresCpuMsEach?: number }) => ({
    replica: Number(x.signerCpuMsEach.toFixed(3)),
    ...(x.postgresCpuMsEach === undefined ? {} : { postgres: Number(x.postgresCpuMsEach.toFixed(3)) }),
  });
  return { statusRead: each(r.statusReads), completion: each(r.completions) };
}

/** The PostgreSQL suites (`--database postgres`): one replica, then REPLICAS on one database. */
async function postgresSuites(capped: string[], pg: BenchPostgres) {
  const oneReplica = await suite(shipped(capped, 'postgres', 1), pg);
  const spread = await suite(shipped(capped, 'postgres', REPLICAS), pg);
  return {
    generatedAt: new Date().toISOString(),
    server: `a throwaway server on loopback (${pgBinaries()}; fsync, synchronous_commit and full_page_writes off), the prepared database copied in by signer db copy and cloned for each suite`,
    note: `on this ${cpus().length}-core machine ${REPLICAS} replicas, their PostgreSQL and the load generator share the cores, so replicas cannot add throughput here: read the CPU per request (costPerRequestCpuMs), what each replica and the server spend on one request. A replica on PostgreSQL blocks its event loop for each statement (a synchronous facade over a worker thread), so it serves fewer requests per second than one on SQLite; replicas add capacity on more cores or machines. With ${REPLICAS} replicas each bench node completes through its own replica; latency percentiles are the highest of the replicas'.`,
    runs: { oneReplica, [`replicas${REPLICAS}`]: spread },
    costPerRequestCpuMs: { oneReplica: cost(oneReplica), [`replicas${REPLICAS}`]: cost(spread) },
  };
}

/** Runs the uncapped suite (and the PostgreSQL ones given a server) and writes bench/results/signer.json. */
async function report(asShipped: Suite, baseline: Suite | undefined, capped: string[], pg?: BenchPostgres) {
  const uncappedHeap = await suite(shipped([]));
  const file = join(ROOT, 'bench/results/signer.json');
  // A run on SQLite only keeps the last PostgreSQL figures (dated) rather than dropping them.
  const postgres = pg
    ? await postgresSuites(capped, pg)
    : existsSync(file)
      ? (JSON.parse(readFileSync(file, 'utf8')) as { postgres?: unknown }).postgres
      : undefined;
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
    ...(postgres ? { sqliteCostPerRequestCpuMs: cost(asShipped), postgres } : {}),
  };
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  say('wrote bench/results/signer.json');
}

let pg: BenchPostgres | undefined;
try {
  const leases = FAST_COMPLETIONS + RATE * RATE_SECONDS;
  const t = performance.now();
  if (prepared?.nodes && cacheDir) copyFileSync(join(cacheDir, 'prepared.db'), basePath);
  else {
    prepare(leases);
    renameSync(dbPath, basePath);
    if (cacheDir) {
      mkdirSync(cacheDir, { recursive: true });
      copyFileSync(basePath, join(cacheDir, 'prepared.db'));
      writeFileSync(join(cacheDir, 'prepared.json'), JSON.stringify({ nodes, leaseMs: LEASE_MS }));
    }
  }
  const leased = nodes.reduce((a, n) => a + n.leased.length, 0);
  say(`prepared ${TASKS} tasks (${leased} leased to ${nodes.length} nodes) in ${Math.round(performance.now() - t)} ms`);
  // The signer as `npm run signer` runs it (its heap flags), then without them for comparison.
  const profile = process.env.BENCH_SIGNER_PROFILE
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_SIGNER_PROFILE}`]
    : [];
  const capped = signerHeapFlags(ROOT);
  const tree = process.env.BENCH_SIGNER_BASELINE;
  const baseline =
    tree && !profile.length
      ? await suite({
          nodeFlags: signerHeapFlags(tree),
          launch: { kind: 'tsx', tree },
          database: 'sqlite',
          replicas: 1,
        })
      : undefined;
  let asShipped = await suite(shipped([...capped, ...profile]));
  // A quick A/B alternates baseline and shipped, so that a change in the machine's load hits both.
  for (let round = 1; QUICK && baseline && round < Number(process.env.BENCH_SIGNER_ROUNDS ?? 2); round++) {
    await suite({
      nodeFlags: signerHeapFlags(tree!),
      launch: { kind: 'tsx', tree: tree! },
      database: 'sqlite',
      replicas: 1,
    });
    asShipped = await suite(shipped(capped));
  }
  // A profiling or quick run stops here; the finally below still removes its databases.
  if (!profile.length && !QUICK) {
    if (args.database === 'postgres') pg = await benchPostgres(basePath);
    await report(asShipped, baseline, capped, pg);
  }
} finally {
  pg?.stop();
  rmSync(dir, { recursive: true, force: true });
}
