/**
 * Child processes for `npm start`, `npm run demo` and the end-to-end tests: each part of the
 * marketplace runs as its own process, is ready when its health URL answers, and stops on
 * SIGTERM (SIGKILL after a grace period).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released for the child to bind). */
export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => ok(port));
    });
  });
}

/** Throws, naming the port, when something already listens on it (another marketplace, say). */
export async function assertPortFree(port: number, what: string): Promise<void> {
  await new Promise<void>((ok, fail) => {
    const srv = createServer();
    srv.once('error', () =>
      fail(
        new Error(
          `port ${port} (${what}) is already in use; is another marketplace running? stop it or choose another port`,
        ),
      ),
    );
    srv.listen(port, '127.0.0.1', () => srv.close(() => ok()));
  });
}

export interface ServiceSpec {
  name: string;
  /** An entry point relative to the root (or absolute): a .ts file runs with tsx's loader, a built .mjs on plain node. */
  script: string;
  args: string[];
  env?: Record<string, string>;
  /** Flags for node itself (heap limits). */
  nodeFlags?: string[];
  /** GET this until it answers 2xx. */
  readyUrl?: string;
  /** Where stdout and stderr go (a file), or 'inherit'. */
  log: string | 'inherit';
  readyTimeoutMs?: number;
}

/** A started child process. */
export interface Service {
  name: string;
  child: ChildProcess;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL now: what the crash tests do. */
  kill(): Promise<void>;
}

/** Starts a service and waits until it is ready (or throws with the tail of its log). */
export async function startService(spec: ServiceSpec): Promise<Service> {
  let stdio: ('ignore' | 'inherit' | 'pipe')[] = ['ignore', 'inherit', 'inherit'];
  if (spec.log !== 'inherit') {
    mkdirSync(dirname(spec.log), { recursive: true });
    stdio = ['ignore', 'pipe', 'pipe'];
  }
  // node itself with tsx's loader, not the tsx binary: tsx would run the script in a grandchild
  // that a SIGKILL of its parent leaves running. A built script (the signer: scripts/build-signer.ts) needs no loader.
  // SERVICE_CPU_PROF_DIR=dir writes a V8 CPU profile of every service to dir/<service>/ when it exits (one file per thread) (for `npm run bench:*` investigations).
  const profile = process.env.SERVICE_CPU_PROF_DIR
    ? ['--cpu-prof', `--cpu-prof-dir=${join(process.env.SERVICE_CPU_PROF_DIR, spec.name)}`]
    : [];
  const child = spawn(
    process.execPath,
    [
      ...(spec.nodeFlags ?? []),
      ...profile,
      ...(spec.script.endsWith('.ts') ? ['--import', 'tsx'] : []),
      resolve(ROOT, spec.script),
      ...spec.args,
    ],
    { cwd: ROOT, env: { ...process.env, ...spec.env }, stdio },
  );
  if (spec.log !== 'inherit') {
    const file = createWriteStream(spec.log, { flags: 'a' });
    child.stdout?.pipe(file);
    child.stderr?.pipe(file);
  }
  const exited = new Promise<number | string>((ok) => child.once('exit', (code, signal) => ok(code ?? signal ?? -1)));
  const service: Service = {
    name: spec.name,
    child,
    exited,
    async stop(graceMs = 5_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
  if (spec.readyUrl) await waitReady(service, spec.readyUrl, spec.readyTimeoutMs ?? 60_000, spec.log);
  return service;
}

async function waitReady(service: Service, url: string, timeoutMs: number, log: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitedWith: number | string | undefined;
  void service.exited.then((c) => (exitedWith = c));
  while (Date.now() < deadline) {
    if (exitedWith !== undefined)
      throw new Error(`${service.name} exited (${exitedWith}) before it was ready; see ${log}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  await service.kill();
  throw new Error(`${service.name} was not ready at ${url} after ${timeoutMs} ms; see ${log}`);
}
