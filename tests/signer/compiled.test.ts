/**
 * The signer as `npm run signer` and `npm start` run it: compiled by scripts/build-signer.ts and
 * started on plain node, without tsx's loader. It must start, check a node's signature on its
 * verifier threads (a worker file found from the bundle), and every worker file it names must exist.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildSigner, signerNodeFlags } from '../../scripts/build-signer.js';
import { TestNode } from './helpers.js';

let bundle: string;
let dir: string;
let proc: ChildProcess;
let url: string;

beforeAll(async () => {
  bundle = await buildSigner();
  dir = mkdtempSync(join(tmpdir(), 'signer-compiled-'));
  proc = spawn(process.execPath, [bundle, 'run', '--database', join(dir, 'signer.db'), '--api-port', '0'], {
    env: { ...process.env, SIGNER_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stderr!.on('data', (d) => (out += d));
  url = await new Promise<string>((resolve, reject) => {
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /signer listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', (code) => reject(new Error(`the compiled signer exited (${code}) before listening:\n${out}`)));
  });
}, 60_000);

afterAll(async () => {
  if (proc && proc.exitCode === null) {
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

it('runs on plain node, without the tsx loader', () => {
  const args = readFileSync(`/proc/${proc.pid}/cmdline`, 'utf8').split('\0');
  expect(args).toContain(bundle);
  expect(args.join(' ')).not.toMatch(/tsx/);
});

it('registers a node: its request signature is checked on a verifier thread started from the bundle', async () => {
  const node = new TestNode('compiled-node');
  const [path, init] = node.request('POST', '/api/v1/nodes/register', node.registration());
  const res = await fetch(`${url}${path}`, init);
  expect(res.status).toBe(201);
  const bad = new TestNode('compiled-node');
  const [, forged] = bad.request('POST', '/api/v1/nodes/heartbeat', { node_id: 'compiled-node', status: 'online' });
  expect((await fetch(`${url}/api/v1/nodes/heartbeat`, forged)).status).toBe(401);
});

it('finds every worker file the signer starts (verifier, dashboard totals, console model check, PostgreSQL connection)', () => {
  const code = readFileSync(bundle, 'utf8');
  const named = [...code.matchAll(/workerFile\(\s*"(file:[^"]+)",\s*"([^"]+)"\s*\)/g)].map(([, from, name]) =>
    fileURLToPath(new URL(`./${name}.ts`, from!)),
  );
  expect(named.map((f) => f.split('/').slice(-2).join('/')).sort()).toEqual([
    'auth/verify-worker.ts',
    'console-models/onnx-worker.ts',
    'dashboard/totals-worker.ts',
    'db/pg-worker.ts',
  ]);
  for (const f of named) expect(existsSync(f), f).toBe(true);
});

it('npm run signer runs the bundle the build names, with the heap flags every start uses', async () => {
  const run = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const p = spawn('npm', ['run', '--silent', 'signer', '--', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout!.on('data', (d) => (out += d));
    p.stderr!.on('data', (d) => (out += d));
    p.once('exit', (code) => resolve({ code, out }));
  });
  expect(run.out).toMatch(/usage: signer run/);
  expect(run.code).toBe(0);
  // The marketplace and the bench start it with the same cap (scripts/lib/marketplace.ts, bench/signer.ts).
  expect(signerNodeFlags()).toContainEqual(expect.stringMatching(/^--max-old-space-size=\d+$/));
}, 60_000);
