/**
 * `npm start` on ports of its own (DEVNET_PORT, SIGNER_PORT) in a data dir of its own: it describes
 * itself in marketplace.json while it runs, the submit command it prints works as printed (market
 * finds the marketplace with no --node/--signer), and a clean stop removes the file.
 */
import { describe, it, expect } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
    try {
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
    } finally {
      if (start.exitCode === null) {
        start.kill('SIGINT');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 420_000);
});
