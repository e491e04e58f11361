/**
 * The agent's signer client over its keep-alive connection pool: a signer that stalls in the middle
 * of an answer fails the call as unreachable (status 0, retryable) within the client's timeout, like
 * one that never answers, instead of leaking a bare stream error the loop would not back off on;
 * and calls share connections rather than opening one each.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomPrivateKey } from '@stacks/transactions';
import { SignerClient, SignerError } from '../../node-agent/index.js';
import { CHAIN_ID } from '../../protocol/index.js';

let server: Server;
let url: string;
let connections = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/api/v1/nodes/heartbeat') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ success: true, data: { ok: true }, error: null }));
      return;
    }
    // Headers and half a body, then nothing.
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '1000' });
    res.write(Buffer.alloc(500));
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const client = () =>
  new SignerClient({
    baseUrl: url,
    nodeId: 'n',
    privateKey: randomPrivateKey(),
    chainId: CHAIN_ID.testnet,
    timeoutMs: 300,
  });

describe('signer client transport', () => {
  it('a body that stalls past the timeout is a retryable SignerError with status 0', async () => {
    const started = Date.now();
    const err = await client()
      .input('ab'.repeat(32))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SignerError);
    expect(err).toMatchObject({ status: 0, retryable: true });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('calls one after another reuse connections (keep-alive)', async () => {
    const c = client();
    const before = connections;
    for (let i = 0; i < 20; i++) await c.heartbeat('online');
    // A call may start before the last one's socket is back in the pool, so a few, never one per call.
    expect(connections - before).toBeLessThanOrEqual(4);
    await c.close();
  });
});
