import { describe, it, expect } from 'vitest';
import { randomPrivateKey, privateKeyToPublic, compressPublicKey } from '@stacks/transactions';
import { signTaskResult, verifyTaskResult, signNodeRequest, verifyNodeRequest, CHAIN_ID } from './index.js';
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
});

describe('node request signatures', () => {
  it('bind method, path, body and time', () => {
    const req = { method: 'POST', path: '/api/v1/tasks/complete', bodyHash: sha256Hex('{}'), timestamp: 1_700_000_000_000 };
    const sig = signNodeRequest(req, CHAIN_ID.testnet, key);
    expect(verifyNodeRequest(req, CHAIN_ID.testnet, sig, pub)).toBe(true);
    expect(verifyNodeRequest({ ...req, path: '/api/v1/nodes/register' }, CHAIN_ID.testnet, sig, pub)).toBe(false);
    expect(verifyNodeRequest({ ...req, timestamp: req.timestamp + 1 }, CHAIN_ID.testnet, sig, pub)).toBe(false);
  });
});
