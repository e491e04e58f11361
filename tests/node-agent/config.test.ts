/**
 * The operator's first minutes: the config file with its defaults and clear errors, env and
 * flag overrides, the key created 0600 and reused, and the CLI printing the payout address.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError,
  loadConfig,
  loadOrCreateKey,
  modelSpecs,
  performanceScoreOf,
  resolveConfig,
} from '../../node-agent/index.js';
import { performanceScore } from '../../node-agent/bench/index.js';
import { backoffDelay, SignerClient, SignerError } from '../../node-agent/client/index.js';
import { CLS, DET } from './helpers.js';

const run = promisify(execFile);
const tmp = () => mkdtempSync(join(tmpdir(), 'agent-config-'));

describe('config', () => {
  it('reads config/node-agent.toml: every key valid, both builtin models resolved', () => {
    const cfg = loadConfig('config/node-agent.toml', {}, {});
    expect(cfg.runtime).toMatchObject({ engine: 'onnxruntime', max_batch: 16, max_queue_delay_ms: 2 });
    expect(modelSpecs(cfg).map((m) => [m.name, m.path, m.sha256])).toEqual([
      [CLS.name, CLS.path, CLS.sha256],
      [DET.name, DET.path, DET.sha256],
    ]);
  });

  it('defaults everything without a file, serving the classifier', () => {
    const cfg = resolveConfig();
    expect(cfg.agent.signer).toBe('http://127.0.0.1:8080');
    expect(modelSpecs(cfg).map((m) => m.sha256)).toEqual([CLS.sha256]);
  });

  it('lets env override the file and flags override env', () => {
    const cfg = resolveConfig(
      { agent: { signer: 'http://file:1' } },
      { key: '/k' },
      {
        NODE_AGENT_SIGNER: 'http://env:2',
        NODE_AGENT_KEY: '/env-key',
        NODE_AGENT_MAX_BATCH: '4',
        NODE_AGENT_MAX_IN_FLIGHT: '48',
        NODE_AGENT_PULL_CONCURRENCY: '2',
      },
    );
    expect(cfg.agent.signer).toBe('http://env:2');
    expect(cfg.agent.key_file).toBe('/k');
    expect(cfg.runtime.max_batch).toBe(4);
    expect(cfg.runtime.max_in_flight).toBe(48);
    expect(cfg.client.pull_concurrency).toBe(2);
  });

  it('reads the chain where the bond lives: file, then NODE_AGENT_STACKS_API/ESCROW/STAKE, then --stacks-api; empty means no chain', () => {
    expect(resolveConfig().chain).toMatchObject({
      api_url: 'http://127.0.0.1:3999',
      escrow_contract: 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.inference-escrow',
      stake: 0,
    });
    const env = {
      NODE_AGENT_STACKS_API: 'http://env:3999',
      NODE_AGENT_ESCROW: 'ST2CY5V39NHDPWSXMW9QDT3HC3GD6Q6XX4CFRK9AG.inference-escrow',
      NODE_AGENT_STAKE: '5000000',
    };
    expect(resolveConfig({ chain: { api_url: 'http://file:3999' } }, {}, env).chain).toMatchObject({
      api_url: 'http://env:3999',
      stake: 5_000_000,
      escrow_contract: env.NODE_AGENT_ESCROW,
    });
    expect(resolveConfig({}, { stacksApi: 'http://flag:3999' }, env).chain.api_url).toBe('http://flag:3999');
    expect(resolveConfig({}, { stacksApi: '' }).chain.api_url).toBe('');
    expect(() => resolveConfig({ chain: { escrow_contract: 'inference-escrow' } })).toThrow(
      /chain\.escrow_contract: must be a contract principal/,
    );
  });

  it('names the key and the fix when a value is wrong', () => {
    expect(() => resolveConfig({ runtime: { max_batch: 0 } })).toThrow(/config: runtime\.max_batch: Too small/);
    expect(() => resolveConfig({ agent: { signer: 'not a url' } })).toThrow(
      /agent\.signer: must be the signer base URL/,
    );
    expect(() => resolveConfig({ runtime: { engine: 'tensorflow' } })).toThrow(ConfigError);
    expect(() => resolveConfig({ models: [{ name: 'x' }] })).toThrow(
      /needs builtin = "classifier"\|"detector" or a path/,
    );
    expect(() => resolveConfig({}, {}, { NODE_AGENT_WORKERS: 'many' })).toThrow(
      'environment NODE_AGENT_WORKERS="many" is not a number',
    );
    const dir = tmp();
    writeFileSync(join(dir, 'bad.toml'), '[agent\nsigner=');
    expect(() => loadConfig(join(dir, 'bad.toml'))).toThrow(/is not valid TOML/);
  });
});

describe('node key', () => {
  it('is created 0600 on first run, then reused, with addresses per network', () => {
    const file = join(tmp(), 'sub', 'node.key');
    const first = loadOrCreateKey(file, 'devnet');
    expect(first.created).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = loadOrCreateKey(file, 'mainnet');
    expect(again).toMatchObject({ created: false, privateKey: first.privateKey, publicKey: first.publicKey });
    expect(first.address).toMatch(/^ST/);
    expect(again.address).toMatch(/^SP/);
    expect(first.publicKey).toMatch(/^0[23][0-9a-f]{64}$/);
  });

  it('refuses a key file others can read, or one that holds no key', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'open.key'), 'ab'.repeat(32));
    chmodSync(join(dir, 'open.key'), 0o644);
    expect(() => loadOrCreateKey(join(dir, 'open.key'), 'devnet')).toThrow(
      /readable by others \(mode 644\); run chmod 600/,
    );
    writeFileSync(join(dir, 'junk.key'), 'hello', { mode: 0o600 });
    expect(() => loadOrCreateKey(join(dir, 'junk.key'), 'devnet')).toThrow(/must hold one hex secp256k1 private key/);
  });
});

describe('signer client', () => {
  it('backs off exponentially with full jitter, capped', () => {
    expect(backoffDelay(0, 500, 30_000, () => 0.999)).toBe(499);
    expect(backoffDelay(3, 500, 30_000, () => 0.5)).toBe(2000);
    expect(backoffDelay(20, 500, 30_000, () => 0.999)).toBe(29_970);
    expect(backoffDelay(5, 500, 30_000, () => 0)).toBe(0);
  });

  it('reports an unreachable signer as retryable, naming the URL', async () => {
    const client = new SignerClient({
      baseUrl: 'http://127.0.0.1:1',
      nodeId: 'n1',
      privateKey: 'ab'.repeat(32),
      chainId: 0x80000000,
      timeoutMs: 2000,
    });
    const err = await client.heartbeat('online').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SignerError);
    expect((err as SignerError).retryable).toBe(true);
    expect((err as SignerError).message).toMatch(
      /^signer http:\/\/127\.0\.0\.1:1 unreachable \(POST \/api\/v1\/nodes\/heartbeat\)/,
    );
  });
});

describe('node-agent CLI', () => {
  it('keygen creates the key and prints the payout address; models lists hashes', async () => {
    const key = join(tmp(), 'cli.key');
    const { stdout } = await run('npx', ['tsx', 'node-agent/cli.ts', 'keygen', '--key', key], {
      env: { ...process.env, NODE_AGENT_NETWORK: 'testnet' },
    });
    expect(stdout).toMatch(new RegExp(`created key ${key}`));
    expect(stdout).toMatch(/payout address {2}ST[0-9A-Z]{38,40}\n/);
    expect(statSync(key).mode & 0o777).toBe(0o600);
    const models = await run('npx', ['tsx', 'node-agent/cli.ts', 'models']);
    expect(models.stdout).toContain(`${CLS.sha256}  ${CLS.name}`);
    expect(models.stdout).toContain(`${DET.sha256}  ${DET.name}`);
  });

  it('bench measures the models and stores the performance_score that run registers with', async () => {
    const dir = tmp();
    const key = join(dir, 'node.key');
    const { stdout } = await run('npx', ['tsx', 'node-agent/cli.ts', 'bench', '--seconds', '0.5', '--key', key], {
      env: { ...process.env, NODE_AGENT_WORKERS: '1' },
    });
    expect(stdout).toMatch(/ppocr-cls: [\d.]+ inferences\/s, p50 [\d.]+ ms, p95 [\d.]+ ms, mean batch [\d.]+/);
    const saved = JSON.parse(readFileSync(join(dir, 'bench.json'), 'utf8')) as {
      performance_score: number;
      results: Record<string, { inferences_per_s: number }>;
    };
    expect(saved.performance_score).toBe(performanceScore(saved.results['ppocr-cls']!.inferences_per_s));
    expect(performanceScoreOf(resolveConfig({ agent: { key_file: key } }))).toBe(saved.performance_score);
    expect(performanceScoreOf(resolveConfig({ agent: { key_file: key, performance_score: 7 } }))).toBe(7);
    expect(performanceScoreOf(resolveConfig({ agent: { key_file: join(tmp(), 'k') } }))).toBe(100);
    expect([performanceScore(0), performanceScore(2000), performanceScore(1e9)]).toEqual([1, 100, 1000]);
  });

  it('explains usage and bad config on the way out', async () => {
    const usage = await run('npx', ['tsx', 'node-agent/cli.ts', 'frobnicate']).catch(
      (e: { code: number; stdout: string }) => e,
    );
    expect(usage).toMatchObject({ code: 2, stdout: expect.stringContaining('usage: node-agent <command>') });
    const bad = await run('npx', ['tsx', 'node-agent/cli.ts', 'keygen'], {
      env: { ...process.env, NODE_AGENT_NETWORK: 'moon' },
    }).catch((e: { code: number; stderr: string }) => e);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining('agent.network') });
  });
});
