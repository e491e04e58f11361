/**
 * `npm run bench:privacy` (issue 14): what privacy costs, in one process on one core.
 *  - Encrypted mode, CPU ms per task (process.cpuUsage, so libuv threads count too) of each side's
 *    work on the bytes, for the classifier's real input (the OIP JSON of [1,3,48,192] float32 that
 *    the demo sends) and a 1 KB input: the requester builds the envelope and seals it to 2 nodes,
 *    then checks the node's sealed-output signature, unseals and checks the salted commitment; the
 *    node unseals, opens the envelope, commits, seals the output back and signs the sealed output.
 *    Beside them, one classifier inference (onnxruntime, one thread) on the same input, for scale.
 *  - The policy guard on 1 KB OIP JSON inputs (half clean, half with one kind of personal data
 *    each), inputs/s of CPU: the check alone, JSON.parse + check, and JSON.parse alone as a
 *    baseline in the same rounds (the machine is shared: ratios hold better than absolutes). The
 *    same on a harder corpus, `digit_dense`: 1 KB of short strings of numbers, timestamps, versions,
 *    hex ids and runs of digit groups, which pass every cheap test and make numbers run into each
 *    other (every card-shaped match runs Luhn), the guard's worst ordinary case.
 * Writes bench/results/privacy.json.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { compressPublicKey, privateKeyToPublic, randomPrivateKey } from '@stacks/transactions';
import * as ort from 'onnxruntime-node';
import { encodeOutputs } from '../node-agent/encode/index.js';
import type { Feeds } from '../node-agent/engine/index.js';
import { DEFAULT_MODELS } from '../node-agent/models/defaults.js';
import {
  buildEnvelope,
  jsonHash,
  openEnvelope,
  outputCommitment,
  sealTo,
  sha256Hex,
  signSealedOutput,
  unseal,
  verifySealedOutput,
  type OipTensor,
} from '../protocol/index.js';
import { writeExampleInput } from '../scripts/lib/marketplace.js';
import { guardConfigSchema, PolicyGuard } from '../signer/guard/index.js';
import { guardCorpus, rng } from './privacy-corpus.js';

const TASKS = Number(process.env.BENCH_TASKS ?? 20);
const GUARD_ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const GUARD_ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 1000);
const GUARD_GOAL = 20_000;
const ESCROW = 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.inference-escrow';
const CHAIN_ID = 0x80000000;

const cpuMs = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};
const round = (x: number, digits = 3) => +x.toFixed(digits);
const keyPair = () => {
  const privateKey = randomPrivateKey();
  return { privateKey, publicKey: compressPublicKey(privateKeyToPublic(privateKey)) };
};

/** Sums CPU and wall time per named step over many tasks. */
class Steps {
  readonly cpu = new Map<string, number>();
  readonly wall = new Map<string, number>();
  async time<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
    const c = process.cpuUsage();
    const w = performance.now();
    const out = await fn();
    this.wall.set(name, (this.wall.get(name) ?? 0) + performance.now() - w);
    this.cpu.set(name, (this.cpu.get(name) ?? 0) + cpuMs(c));
    return out;
  }
  /** Per-task means: each step's CPU ms, their total, and the total wall ms. */
  perTask(tasks: number) {
    const steps = Object.fromEntries([...this.cpu].map(([k, v]) => [k, round(v / tasks)]));
    const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0) / tasks;
    return { cpu_ms: round(sum(this.cpu)), wall_ms: round(sum(this.wall)), cpu_ms_by_step: steps };
  }
}

/** One encrypted task's byte work, `tasks` times, for an input and the output the node sends back. */
async function encryptedTask(input: Uint8Array, outputJson: string, tasks: number) {
  const requester = keyPair();
  const nodes = [keyPair(), keyPair()];
  const req = new Steps();
  const node = new Steps();
  const sizes = { input: input.length, envelope: 0, sealed_input: 0, output: outputJson.length, sealed_output: 0 };
  for (let i = -1; i < tasks; i++) {
    // Round -1 warms the JIT and is measured into throwaway counters.
    const r = i < 0 ? new Steps() : req;
    const n = i < 0 ? new Steps() : node;
    const env = await r.time('buildEnvelope', () => buildEnvelope(input, { replyTo: requester.publicKey }));
    const sealed = await r.time('sealTo x2', () => Promise.all(nodes.map((k) => sealTo(k.publicKey, env.bytes))));
    const taskId = 1000 + i;
    // The node (the first one offered).
    const plain = await n.time('unseal', () => unseal(nodes[0]!.privateKey, sealed[0]!));
    const opened = await n.time('openEnvelope', () => openEnvelope(plain, env.inputHash));
    const outputHash = await n.time('outputCommitment', () => outputCommitment(opened.salt, outputJson));
    const sealedOut = await n.time('sealTo', () => sealTo(opened.reply_to, new TextEncoder().encode(outputJson)));
    const signature = await n.time('signSealedOutput', () =>
      signSealedOutput(
        { escrow: ESCROW, taskId, outputHash, sealedHash: sha256Hex(sealedOut) },
        CHAIN_ID,
        nodes[0]!.privateKey,
      ),
    );
    // The requester again, with the result as the signer serves it (the parsed cipher object).
    const served = JSON.parse(new TextDecoder().decode(sealedOut));
    const ok = await r.time('verifySealedOutput', () =>
      verifySealedOutput(
        { escrow: ESCROW, taskId, outputHash, sealedHash: jsonHash(served) },
        CHAIN_ID,
        signature,
        nodes[0]!.publicKey,
      ),
    );
    const out = await r.time('unseal', () => unseal(requester.privateKey, sealedOut));
    const match = await r.time(
      'outputCommitment',
      () => outputCommitment(env.envelope.salt, new TextDecoder().decode(out)) === outputHash,
    );
    if (!ok || !match) throw new Error('the sealed output did not check out');
    Object.assign(sizes, {
      envelope: env.bytes.length,
      sealed_input: sealed[0]!.length,
      sealed_output: sealedOut.length,
    });
  }
  return { bytes: sizes, requester: req.perTask(tasks), node: node.perTask(tasks) };
}

/** The classifier on one request, one intra-op thread: the model's own time per task. */
async function inference(inputJson: string, tasks: number) {
  const cls = DEFAULT_MODELS.classifier;
  const session = await ort.InferenceSession.create(cls.path, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const t = (JSON.parse(inputJson) as { inputs: OipTensor[] }).inputs[0]!;
  const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', Float32Array.from(t.data as number[]), t.shape) };
  let outputs = await session.run(feeds);
  const c = process.cpuUsage();
  const w = performance.now();
  for (let i = 0; i < tasks; i++) outputs = await session.run(feeds);
  const result = { cpu_ms: round(cpuMs(c) / tasks), wall_ms: round((performance.now() - w) / tasks) };
  const names = [...session.outputNames];
  const out: Feeds = {};
  for (const n of names)
    out[n] = { datatype: 'FP32', dims: [...outputs[n]!.dims], data: outputs[n]!.data as Float32Array };
  // The output J a node commits to and seals: the canonical JSON the agent's encoder gives.
  const { json } = encodeOutputs(out, names);
  await session.release();
  return { ...result, outputJson: json };
}

/** Inputs handled per CPU second and per wall second by `fn` over the corpus, summed over rounds. */
class Rate {
  inputs = 0;
  cpu = 0;
  wall = 0;
  sink = 0;
  run(ms: number, n: number, fn: (i: number) => number) {
    const c = process.cpuUsage();
    const w = performance.now();
    let i = 0;
    while (performance.now() - w < ms) for (let k = 0; k < 256; k++, i++) this.sink += fn(i % n);
    this.wall += performance.now() - w;
    this.cpu += cpuMs(c);
    this.inputs += i;
  }
  get result() {
    return {
      inputs: this.inputs,
      inputs_per_cpu_s: Math.round(this.inputs / (this.cpu / 1000)),
      inputs_per_wall_s: Math.round(this.inputs / (this.wall / 1000)),
      cpu_share: round(this.cpu / this.wall, 2),
    };
  }
}

/**
 * `n` OIP requests of about 1 KB whose BYTES strings are all digits and punctuation: decimals,
 * ISO timestamps, long integers, versions, hex ids, and space-separated groups of 9 digits (which
 * CARD matches two at a time). Half of them carry one planted kind, as in guardCorpus.
 */
function digitDenseCorpus(n: number): { kind: string; json: string }[] {
  const r = rng(1414);
  const int = (k: number) => Math.floor(r() * k);
  const planted = guardCorpus(n).filter((d) => d.kind !== 'clean');
  const pieces = [
    () => (r() * 1000).toFixed(6),
    () => `2024-0${1 + int(9)}-1${int(9)}T1${int(9)}:${10 + int(49)}:${10 + int(49)}Z`,
    () => String(int(1e12)),
    () => `v${int(9)}.${int(20)}.${int(99)}`,
    () => int(2 ** 48).toString(16),
    () => Array.from({ length: 3 + int(4) }, () => String(1e8 + int(9e8))).join(' '),
  ];
  return Array.from({ length: n }, (_, i) => {
    const data: string[] = [];
    for (let size = 0; size < 900; ) {
      const piece = pieces[int(pieces.length)]!();
      data.push(piece);
      size += piece.length + 3;
    }
    const p = i % 2 === 1 ? planted[(i - 1) / 2]! : null;
    if (p) {
      // The planted value as guardCorpus wrote it, set among the digits.
      const value = (JSON.parse(p.json) as { inputs: { data: string[] }[] }).inputs[0]!.data.find((l) =>
        l.includes('(from '),
      )!;
      data[int(data.length)] = value.slice(value.indexOf('(from ') + 6, -2);
    }
    const json = JSON.stringify({ inputs: [{ name: 'values', shape: [data.length], datatype: 'BYTES', data }] });
    return { kind: p ? p.kind : 'clean', json };
  });
}

/** The guard's inputs per CPU second on `corpus`, each planted kind first checked to be found. */
function guardThroughput(corpus: { kind: string; json: string }[], level: string, cleanMayMatch = false) {
  const guard = new PolicyGuard(guardConfigSchema.parse({}));
  const parsed = corpus.map((d) => JSON.parse(d.json));
  // The corpus must be what it says: each planted kind found where planted, nothing in the clean ones
  // (in the digit-dense corpus a random number may have a kind's shape, e.g. 11 digits from 13: counted).
  const found: Record<string, number> = {};
  let incidental = 0;
  corpus.forEach((d, i) => {
    const rules = guard.check(parsed[i], 'L1').findings.map((f) => f.rule);
    if (d.kind === 'clean' && rules.length > 0 && cleanMayMatch) incidental++;
    else if (d.kind === 'clean' ? rules.length > 0 : !(rules as string[]).includes(d.kind))
      throw new Error(`guard corpus item ${i} (${d.kind}) gave ${JSON.stringify(rules)}`);
    found[d.kind] = (found[d.kind] ?? 0) + 1;
  });
  const sides = { parse_only: new Rate(), check_only: new Rate(), parse_and_check: new Rate() };
  const n = corpus.length;
  for (let r = -1; r < GUARD_ROUNDS; r++) {
    const ms = r < 0 ? 200 : GUARD_ROUND_MS;
    const pick = (s: Rate) => (r < 0 ? new Rate() : s);
    pick(sides.parse_only).run(ms, n, (i) => (JSON.parse(corpus[i]!.json) as unknown[]) && 1);
    pick(sides.check_only).run(ms, n, (i) => guard.check(parsed[i], 'L1').findings.length);
    pick(sides.parse_and_check).run(ms, n, (i) => guard.check(JSON.parse(corpus[i]!.json), 'L1').findings.length);
  }
  const bytes = corpus.map((d) => Buffer.byteLength(d.json));
  const res = {
    parse_only: sides.parse_only.result,
    check_only: sides.check_only.result,
    parse_and_check: sides.parse_and_check.result,
  };
  return {
    corpus: {
      inputs: n,
      // Inputs found to hold what was planted in them (and nothing in the clean ones), checked before timing.
      by_kind: found,
      ...(cleanMayMatch ? { clean_with_incidental_findings: incidental } : {}),
      bytes_min: Math.min(...bytes),
      bytes_mean: Math.round(bytes.reduce((a, b) => a + b, 0) / n),
      bytes_max: Math.max(...bytes),
      level,
    },
    ...res,
    ratios: {
      check_vs_parse: round(res.check_only.inputs_per_cpu_s / res.parse_only.inputs_per_cpu_s, 2),
      parse_and_check_vs_parse: round(res.parse_and_check.inputs_per_cpu_s / res.parse_only.inputs_per_cpu_s, 2),
    },
  };
}

const loadStart = loadavg().map((l) => round(l, 2));
const started = new Date().toISOString();
const classifierJson = readFileSync(writeExampleInput(mkdtempSync(join(tmpdir(), 'bench-privacy-'))), 'utf8');
const infer = await inference(classifierJson, TASKS);
const smallJson = guardCorpus(1)[0]!.json;
const encrypted = {
  classifier_input: await encryptedTask(new TextEncoder().encode(classifierJson), infer.outputJson, TASKS),
  input_1kb: await encryptedTask(new TextEncoder().encode(smallJson), infer.outputJson, TASKS * 3),
  classifier_inference: { cpu_ms: infer.cpu_ms, wall_ms: infer.wall_ms, intra_op_threads: 1 },
};
console.log('encrypted', JSON.stringify(encrypted, null, 2));
const guard = {
  ...guardThroughput(guardCorpus(600), 'L1 (mask, the default level)'),
  digit_dense: guardThroughput(digitDenseCorpus(600), 'L1 (mask, the default level)', true),
};
console.log('guard', JSON.stringify(guard, null, 2));
const report = {
  benchmark: 'privacy',
  date: started,
  machine: {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    load_average_start: loadStart,
    load_average_end: loadavg().map((l) => round(l, 2)),
  },
  settings: { tasks: TASKS, guard_rounds: GUARD_ROUNDS, guard_round_ms: GUARD_ROUND_MS },
  goal: `guard >= ${GUARD_GOAL} inputs/s on one core (1 KB JSON inputs, CPU time)`,
  goals: {
    check_only: guard.check_only.inputs_per_cpu_s >= GUARD_GOAL,
    parse_and_check: guard.parse_and_check.inputs_per_cpu_s >= GUARD_GOAL,
    digit_dense_check_only: guard.digit_dense.check_only.inputs_per_cpu_s >= GUARD_GOAL,
    digit_dense_parse_and_check: guard.digit_dense.parse_and_check.inputs_per_cpu_s >= GUARD_GOAL,
  },
  ratios: guard.ratios,
  encrypted,
  guard,
};
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/privacy.json', `${JSON.stringify(report, null, 2)}\n`);
console.log(
  `wrote bench/results/privacy.json (guard ${guard.parse_and_check.inputs_per_cpu_s}/s with JSON.parse, ${guard.check_only.inputs_per_cpu_s}/s alone; digit-dense ${guard.digit_dense.parse_and_check.inputs_per_cpu_s}/s and ${guard.digit_dense.check_only.inputs_per_cpu_s}/s; load ${report.machine.load_average_start[0]} -> ${report.machine.load_average_end[0]})`,
);
