/**
 * A model owner publishes with the real `market` CLI: deploy (the file goes to the signer's
 * artifact store, the output on chain), upgrade to a new version, retire. Users then see it in
 * `market models` and a node can download the exact bytes the chain's artifact hash names.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from '../../protocol/index.js';
import { ROOT } from '../../scripts/lib/services.js';
import { classifierPath, type Marketplace } from '../../scripts/lib/marketplace.js';
import { marketChain } from '../../scripts/lib/workload.js';
import { key, address, marketplace } from './helpers.js';

const exec = promisify(execFile);
let m: Marketplace;

beforeAll(async () => {
  ({ m } = await marketplace({ withoutAgent: true }));
}, 240_000);
afterAll(async () => m?.stop(), 60_000);

async function market(...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await exec(
    process.execPath,
    ['--import', 'tsx', 'market/cli.ts', ...args, '--json', '--node', m.devnetUrl, '--signer', m.signerUrl],
    {
      cwd: ROOT,
      env: { ...process.env, MARKET_PRIVATE_KEY: key('wallet_5') },
    },
  );
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe('publishing models with the market CLI', () => {
  it('deploys, upgrades and retires a model; nodes can fetch the artifact the chain names', async () => {
    const v1 = classifierPath();
    const input = join(m.dataDir, 'input.json');
    writeFileSync(input, '{"inputs":[]}');
    const deployed = await market('deploy-model', v1, '--name', 'owner-cls', '--price', '2500');
    expect(deployed.artifact_hash).toBe(sha256Hex(readFileSync(v1)));

    const listed = (await market('models')).models as {
      model: string;
      price: string;
      owner: string;
      version: string;
    }[];
    expect(listed.find((x) => x.model === 'owner-cls')).toMatchObject({
      price: '2500',
      owner: address('wallet_5'),
      version: '1',
    });

    const chain = marketChain(m);
    const head = (await chain.modelHead('owner-cls'))!;
    const artifact = await fetch(`${m.signerUrl}/api/v1/models/${head.artifactHash}/artifact`);
    expect(sha256Hex(new Uint8Array(await artifact.arrayBuffer()))).toBe(head.artifactHash);

    const upgraded = await market('upgrade-model', v1, '--name', 'owner-cls', '--price', '3000');
    expect(upgraded.version).toBe('2');
    const v2head = (await chain.modelHead('owner-cls'))!;
    expect(v2head.price).toBe(3000n);
    expect(v2head.parent).toBe(head.outputId);

    await market('retire-model', '--name', 'owner-cls');
    expect(await chain.modelHead('owner-cls')).toBeNull();
    // a retired model cannot take tasks: submit says so in words
    const refused = await exec(
      process.execPath,
      [
        '--import',
        'tsx',
        'market/cli.ts',
        'submit',
        '--model',
        'owner-cls',
        '--input',
        input,
        '--node',
        m.devnetUrl,
        '--signer',
        m.signerUrl,
      ],
      {
        cwd: ROOT,
        env: { ...process.env, MARKET_PRIVATE_KEY: key('wallet_5') },
      },
    ).catch((e: { stderr: string }) => e);
    expect((refused as { stderr: string }).stderr).toMatch(/not deployed or was retired/);
  }, 240_000);
});
