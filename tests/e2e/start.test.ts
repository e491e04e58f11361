/**
 * `npm start` on ports of its own (DEVNET_PORT, SIGNER_PORT) in a data dir of its own: it describes
 * itself in marketplace.json while it runs, the submit command it prints works as printed (market
 * finds the marketplace with no --node/--signer), a second npm start from the same data directory
 * (while the first starts up, and once it runs) stops naming it and leaves it alone, and a clean stop
 * removes the file and the lock.
 */
import { describe, it, expect } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, freePort } from '../../scripts/lib/services.js';
import { RUNNING_FILE, runningMarketplaceSchema } from '../../protocol/config/index.js';

/** The environment without anything that would point market at a marketplace explicitly. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  for (const name of Object.keys(env)) if (/^MARKET_/.test(name)) delete env[name];
  return env;
}

describe('npm start on custom ports', () => {
  it('writes data/marketplace.json, prints a submit command that works as printed, removes the file on Ctrl-C', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'market-start-'));
    const [devnetPort, signerPort] = [await freePort(), await freePort()];
    const env = cleanEnv({
      DEVNET_PORT: String(devnetPort),
      SIGNER_PORT: String(signerPort),
      NODE_AGENTS: '1',
      MARKETPLACE_DATA_DIR: dataDir,
    });
    delete env.DEVNET_IDLE_BLOCK_MS;
    const start = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    start.stdout.on('data', (b: Buffer) => (out += b.toString()));
    start.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((ok) => start.once('exit', (code) => ok(code)));
    /** A second npm start from the same data directory, on other ports: it must stop before touching anything. */
    const second = async () =>
      spawnSync(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
        cwd: ROOT,
        env: { ...env, DEVNET_PORT: String(await freePort()), SIGNER_PORT: String(await freePort()) },
        encoding: 'utf8',
        timeout: 60_000,
      });
    try {
      while (!out.includes('starting the devnet')) {
        if (start.exitCode !== null) throw new Error(`npm start stopped:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const early = await second();
      expect(early.status, early.stdout + early.stderr).toBe(1);
      expect(early.stderr).toMatch(
        new RegExp(`another npm start \\(pid ${start.pid}\\) is running from \\S+ \\(still starting up\\)`),
      );
      const deadline = Date.now() + 240_000;
      while (!out.includes('Ctrl-C stops everything')) {
        if (Date.now() > deadline || start.exitCode !== null) throw new Error(`npm start did not come up:\n${out}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      const file = join(dataDir, RUNNING_FILE);
      const info = runningMarketplaceSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
      expect(info).toMatchObject({
        devnet_url: `http://127.0.0.1:${devnetPort}`,
        signer_url: `http://127.0.0.1:${signerPort}`,
        pid: start.pid,
        data_dir: dataDir,
      });
      expect(out).not.toMatch(/:(3999|8080)\b/);
      // Once it runs, a second start names it and leaves it alone (it used to open the same chain
      // file, database and logs, and hang while starting).
      const devnetLog = readFileSync(join(dataDir, 'logs', 'devnet.log'), 'utf8');
      const late = await second();
      expect(late.status, late.stdout + late.stderr).toBe(1);
      expect(late.stderr).toContain(
        `another npm start (pid ${start.pid}) is running from ${dataDir}: signer http://127.0.0.1:${signerPort}, devnet http://127.0.0.1:${devnetPort}`,
      );
      expect(runningMarketplaceSchema.parse(JSON.parse(readFileSync(file, 'utf8')))).toEqual(info);
      expect(readFileSync(join(dataDir, 'logs', 'devnet.log'), 'utf8').startsWith(devnetLog)).toBe(true);

      const command =
        /^\s*(MARKETPLACE_DATA_DIR=\S+ MARKET_PRIVATE_KEY=\S+ npm run market -- submit --model \S+ --input \S+)$/m.exec(
          out,
        )?.[1];
      expect(command, out).toBeDefined();
      const submitted = spawnSync('sh', ['-c', command!], {
        cwd: ROOT,
        env: cleanEnv({}),
        encoding: 'utf8',
        timeout: 180_000,
      });
      expect(submitted.status, `${submitted.stdout}\n${submitted.stderr}`).toBe(0);
      expect(submitted.stdout).toMatch(/^task \d+: /m);

      start.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(existsSync(file)).toBe(false);
      expect(existsSync(join(dataDir, 'npm-start.pid'))).toBe(false);
    } finally {
      if (start.exitCode === null) {
        start.kill('SIGINT');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 420_000);

  it('stops every service it started when SIGTERM comes while it starts up, and leaves no process behind', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'market-start-term-'));
    const env = cleanEnv({
      DEVNET_PORT: String(await freePort()),
      SIGNER_PORT: String(await freePort()),
      NODE_AGENTS: '1',
      MARKETPLACE_DATA_DIR: dataDir,
    });
    const start = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    start.stdout.on('data', (b: Buffer) => (out += b.toString()));
    start.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((ok) => start.once('exit', (code) => ok(code)));
    /** Processes whose command line names this data directory (the devnet, signer and agent). */
    const children = () =>
      readdirSync('/proc')
        .filter((d) => /^\d+$/.test(d))
        .filter((d) => {
          try {
            return readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(dataDir);
          } catch {
            return false;
          }
        });
    try {
      while (!out.includes('starting the devnet')) {
        if (start.exitCode !== null) throw new Error(`npm start stopped:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      // The devnet is spawned right after that line; signal once it runs.
      while (children().length === 0) await new Promise((r) => setTimeout(r, 100));
      start.kill('SIGTERM');
      expect(await exited, out).toBe(0);
      expect(out).toMatch(/SIGTERM: stopping once the services started so far answer[\s\S]*stopped\./);
      expect(children()).toEqual([]);
      expect(existsSync(join(dataDir, 'npm-start.pid'))).toBe(false);
    } finally {
      if (start.exitCode === null) {
        start.kill('SIGKILL');
        await exited;
      }
      for (const pid of children()) process.kill(Number(pid), 'SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 300_000);
});
