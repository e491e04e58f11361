import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  randomPrivateKey,
  privateKeyToPublic,
  compressPublicKey,
  encodeStructuredDataBytes,
  signStructuredData,
} from '@stacks/transactions';
import {
  signTaskResult,
  verifyTaskResult,
  signNodeRequest,
  verifyNodeRequest,
  encodeTaskResult,
  encodeNodeRequest,
  taskResultMessageCV,
  nodeRequestMessageCV,
  domainCV,
  CHAIN_ID,
  TASK_RESULT_DOMAIN,
  NODE_REQUEST_DOMAIN,
} from './index.js';
import { sha256Hex } from '../hash/index.js';

const key = randomPrivateKey();
const pub = compressPublicKey(privateKeyToPublic(key));
const result = {
  escrow: 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.inference-escrow',
  taskId: 7n,
  inputHash: sha256Hex('in'),
  outputHash: sha256Hex('out'),
};

describe('task result signatures', () => {
  it('verify with the signing key and fail for any other field', () => {
    const sig = signTaskResult(result, CHAIN_ID.testnet, key);
    expect(sig).toMatch(/^[0-9a-f]{130}$/);
    expect(verifyTaskResult(result, CHAIN_ID.testnet, sig, pub)).toBe(true);
    expect(verifyTaskResult({ ...result, taskId: 8n }, CHAIN_ID.testnet, sig, pub)).toBe(false);
    expect(verifyTaskResult({ ...result, outputHash: sha256Hex('other') }, CHAIN_ID.testnet, sig, pub)).toBe(false);
    expect(verifyTaskResult(result, CHAIN_ID.mainnet, sig, pub)).toBe(false);
    const other = compressPublicKey(privateKeyToPublic(randomPrivateKey()));
    expect(verifyTaskResult(result, CHAIN_ID.testnet, sig, other)).toBe(false);
    expect(verifyTaskResult({ ...result, inputHash: 'zz' }, CHAIN_ID.testnet, sig, pub)).toBe(false);
  });

  it('encode and sign exactly as stacks.js does, for any escrow, task id, hashes, chain and key', () => {
    const principal = fc.constantFrom(
      'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.inference-escrow',
      'SP2J6ZY48GV1EZ5V2V5RB9MP66SW86PYKKNRV9EJ7.escrow-v2',
      'ST2CY5V39NHDPWSXMW9QDT3HC3GD6Q6XX4CFRK9AG',
      'SP000000000000000000002Q6VF78.a',
    );
    const hex32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
    const uint128 = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n });
    const chain = fc.constantFrom(CHAIN_ID.testnet, CHAIN_ID.mainnet, 0x80000001);
    fc.assert(
      fc.property(
        principal,
        uint128,
        hex32,
        hex32,
        chain,
        fc.boolean(),
        (escrow, taskId, inputHash, outputHash, chainId, suffixed) => {
          const r = { escrow, taskId, inputHash, outputHash };
          const message = taskResultMessageCV(r);
          const domain = domainCV(TASK_RESULT_DOMAIN, chainId);
          expect(Buffer.from(encodeTaskResult(r, chainId))).toEqual(
            Buffer.from(encodeStructuredDataBytes({ message, domain })),
          );
          const privateKey = suffixed ? `${key.slice(0, 64)}01` : key.slice(0, 64);
          expect(signTaskResult(r, chainId, privateKey)).toBe(signStructuredData({ message, domain, privateKey }));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses what cannot be encoded, saying what is wrong', () => {
    expect(() => encodeTaskResult({ ...result, taskId: -1n }, CHAIN_ID.testnet)).toThrow(/uint/);
    expect(() => encodeTaskResult({ ...result, taskId: 1n << 128n }, CHAIN_ID.testnet)).toThrow(/uint/);
    expect(() => encodeTaskResult({ ...result, outputHash: 'ab' }, CHAIN_ID.testnet)).toThrow(
      /outputHash must be 32 bytes/,
    );
    expect(() => signTaskResult(result, CHAIN_ID.testnet, 'not-a-key')).toThrow(/private key/);
  });
});

describe('node request signatures', () => {
  it('bind method, path, body and time', () => {
    const req = {
      method: 'POST',
      path: '/api/v1/tasks/complete',
      bodyHash: sha256Hex('{}'),
      timestamp: 1_700_000_000_000,
    };
    const sig = signNodeRequest(req, CHAIN_ID.testnet, key);
    expect(verifyNodeRequest(req, CHAIN_ID.testnet, sig, pub)).toBe(true);
    expect(verifyNodeRequest({ ...req, path: '/api/v1/nodes/register' }, CHAIN_ID.testnet, sig, pub)).toBe(false);
    expect(verifyNodeRequest({ ...req, timestamp: req.timestamp + 1 }, CHAIN_ID.testnet, sig, pub)).toBe(false);
  });

  it('encode exactly as stacks.js does, for any method, path (non-ASCII too), body hash, time and chain', () => {
    const text = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.constantFrom('/api/v1/tasks/complete', '/api/v1/nodes/n-1/tasks?wait=20&max=8'),
    );
    const hex32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
    const chain = fc.constantFrom(CHAIN_ID.testnet, CHAIN_ID.mainnet, 0x80000001);
    fc.assert(
      fc.property(
        fc.constantFrom('GET', 'post', 'PUT'),
        text,
        hex32,
        fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        chain,
        (method, path, bodyHash, timestamp, chainId) => {
          const req = { method, path, bodyHash, timestamp };
          const domain = domainCV(NODE_REQUEST_DOMAIN, chainId);
          expect(Buffer.from(encodeNodeRequest(req, chainId))).toEqual(
            Buffer.from(encodeStructuredDataBytes({ message: nodeRequestMessageCV(req), domain })),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('encode and sign exactly as stacks.js does', () => {
    const req = {
      method: 'GET',
      path: '/api/v1/nodes/n-1/tasks?max=32&inline=true',
      bodyHash: sha256Hex(''),
      timestamp: Date.now(),
    };
    const message = nodeRequestMessageCV(req);
    const domain = domainCV(NODE_REQUEST_DOMAIN, CHAIN_ID.testnet);
    expect(Buffer.from(encodeNodeRequest(req, CHAIN_ID.testnet))).toEqual(
      Buffer.from(encodeStructuredDataBytes({ message, domain })),
    );
    expect(signNodeRequest(req, CHAIN_ID.testnet, key)).toBe(signStructuredData({ message, domain, privateKey: key }));
  });
});
