/**
 * A dishonest signer cannot read an encrypted input by offering a key of its own (issue 14): the
 * client seals only to keys with an active bond on chain (a real devnet), and tells the user when
 * the signer offered none. The dishonest signer is a small HTTP server on loopback that answers
 * the reservation with whatever keys the test gives it and records every upload.
 */
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { compressPublicKey, privateKeyToPublic, randomPrivateKey } from '@stacks/transactions';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMarketConfig } from '../../market/config.js';
import { createContext } from '../../market/context.js';
import { sealInput } from '../../market/commands/encrypted.js';
import { SealedResultError } from '../../market/sealed.js';
import { keyOf } from '../devnet/helpers.js';
import { chainFixture, type ChainFixture } from '../signer/devnet-fixture.js';

let fx: ChainFixture;
let server: ServerType;
let signerUrl: string;
/** The keys the dishonest signer offers next, and the node ids it received ciphertexts for. */
let offered: { node_id: string; public_key: string }[] = [];
const uploads: string[] = [];

const keyPair = () => {
  const key = randomPrivateKey();
  return { key, public_key: compressPublicKey(privateKeyToPublic(key)) };
};

beforeAll(async () => {
  fx = await chainFixture();
  const app = new Hono()
    .post('/api/v1/reservations', (c) =>
      c.json(
        {
          success: true,
          data: {
            reservation_id: 'r1',
            model: 'mnist',
            artifact_hash: fx.artifactHash,
            nodes: offered,
            expires_at: Date.now() + 60_000,
          },
          error: null,
        },
        201,
      ),
    )
    .put('/api/v1/inputs/:hash/sealed/:node', (c) => {
      uploads.push(c.req.param('node'));
      return c.json({ success: true, data: {}, error: null }, 201);
    });
  server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((r) => server.once('listening', r));
  signerUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 120_000);
afterAll(async () => {
  server?.close();
  await fx?.cleanup();
  // context() sets it; the next suite in this worker (vitest.config.ts: devnet, isolate: false) must not inherit a wallet.
  delete process.env.MARKET_PRIVATE_KEY;
});

function context() {
  process.env.MARKET_PRIVATE_KEY = keyOf(fx.devnet, 'wallet_2');
  const config = loadMarketConfig(
    undefined,
    {},
    {
      MARKET_NETWORK: 'devnet',
      MARKET_NODE_URL: fx.devnet.url,
      MARKET_SIGNER_URL: signerUrl,
      MARKET_DATA_DIR: mkdtempSync(join(tmpdir(), 'market-bonds-')),
    },
  );
  return createContext(config, true);
}

const input = { model: 'mnist', bytes: new TextEncoder().encode('{"inputs":[]}'), binary: false, security: 1n };

describe('sealing only to bonded node keys', () => {
  it('refuses to seal to keys the signer offers that have no bond, and uploads nothing', async () => {
    const mine = keyPair();
    offered = [{ node_id: 'node-1', public_key: mine.public_key }];
    uploads.length = 0;
    const err = await sealInput(context(), input).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SealedResultError);
    expect((err as SealedResultError).code).toBe('no_bonded_node');
    expect(uploads).toEqual([]);
  });

  it('seals to the bonded keys of an offer and leaves out the rest', async () => {
    const honest = keyPair();
    await fx.bond(honest.key);
    offered = [
      { node_id: 'signers-own', public_key: keyPair().public_key },
      { node_id: 'bonded', public_key: honest.public_key },
    ];
    uploads.length = 0;
    const sealed = await sealInput(context(), input);
    expect(sealed.nodes.map((n) => n.node_id)).toEqual(['bonded']);
    expect(uploads).toEqual(['bonded']);
  }, 60_000);
});
