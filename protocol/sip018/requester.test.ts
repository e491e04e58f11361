import { describe, it, expect } from 'vitest';
import {
  randomPrivateKey,
  compressPublicKey,
  privateKeyToPublic,
  publicKeyFromSignatureRsv,
  encodeStructuredDataBytes,
} from '@stacks/transactions';
import { createHash } from 'node:crypto';
import {
  CHAIN_ID,
  REQUESTER_AUTH_HEADERS,
  REQUESTER_REQUEST_DOMAIN,
  NODE_REQUEST_DOMAIN,
  domainCV,
  isCanonicalSignature,
  requesterAuthHeaders,
  requesterPublicKey,
  requesterRequestMessageCV,
  signRequesterRequest,
  verifyNodeRequest,
  verifyRequesterRequest,
} from '../index.js';

const key = randomPrivateKey();
const publicKey = compressPublicKey(privateKeyToPublic(key));
const req = { method: 'GET', path: '/api/v1/tasks/7/result', publicKey, timestamp: 1_790_000_000_000 };

describe('requester request signatures', () => {
  it('sign the SIP-018 hash of {method, path, public-key, timestamp} in their own domain, canonically', () => {
    const sig = signRequesterRequest(req, CHAIN_ID.testnet, key);
    expect(isCanonicalSignature(sig)).toBe(true);
    const encoded = encodeStructuredDataBytes({
      message: requesterRequestMessageCV(req),
      domain: domainCV(REQUESTER_REQUEST_DOMAIN, CHAIN_ID.testnet),
    });
    const digest = createHash('sha256').update(encoded).digest('hex');
    expect(compressPublicKey(publicKeyFromSignatureRsv(digest, sig))).toBe(publicKey);
    expect(verifyRequesterRequest(req, CHAIN_ID.testnet, sig)).toBe(true);
    expect(REQUESTER_REQUEST_DOMAIN.name).not.toBe(NODE_REQUEST_DOMAIN.name);
  });

  it('bind the method, path, key, timestamp and chain', () => {
    const sig = signRequesterRequest(req, CHAIN_ID.testnet, key);
    const other = compressPublicKey(privateKeyToPublic(randomPrivateKey()));
    for (const changed of [
      { ...req, method: 'PUT' },
      { ...req, path: '/api/v1/tasks/8/result' },
      { ...req, publicKey: other },
      { ...req, timestamp: req.timestamp + 1 },
    ]) {
      expect(verifyRequesterRequest(changed, CHAIN_ID.testnet, sig)).toBe(false);
    }
    expect(verifyRequesterRequest(req, CHAIN_ID.mainnet, sig)).toBe(false);
    // Never a node request signature either.
    expect(
      verifyNodeRequest(
        { method: req.method, path: req.path, bodyHash: '00'.repeat(32), timestamp: req.timestamp },
        CHAIN_ID.testnet,
        sig,
        publicKey,
      ),
    ).toBe(false);
  });

  it('refuse malformed keys and non-ASCII paths instead of throwing', () => {
    expect(() => requesterRequestMessageCV({ ...req, publicKey: '04ab' })).toThrow(/compressed/);
    expect(verifyRequesterRequest({ ...req, path: '/ü' }, CHAIN_ID.testnet, '00'.repeat(65))).toBe(false);
  });

  it('build the three headers a signer checks', () => {
    const h = requesterAuthHeaders('PUT', '/api/v1/inputs/ab', CHAIN_ID.testnet, key, 42);
    expect(h[REQUESTER_AUTH_HEADERS.publicKey]).toBe(requesterPublicKey(key));
    expect(h[REQUESTER_AUTH_HEADERS.timestamp]).toBe('42');
    expect(
      verifyRequesterRequest(
        { method: 'PUT', path: '/api/v1/inputs/ab', publicKey, timestamp: 42 },
        CHAIN_ID.testnet,
        h[REQUESTER_AUTH_HEADERS.signature]!,
      ),
    ).toBe(true);
  });
});
