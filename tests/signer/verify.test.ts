/**
 * The OpenSSL-backed verifiers agree with protocol/sip018 on r and s, and never accept a
 * signature that Clarity's secp256k1-verify (what the escrow runs) would refuse.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { initSimnet } from '@stacks/clarinet-sdk';
import { compressPublicKey, privateKeyToPublic, randomPrivateKey } from '@stacks/transactions';
import {
  domainCV,
  sha256Hex,
  signNodeRequest,
  signTaskResult,
  structuredDataHash,
  taskResultMessageCV,
  TASK_RESULT_DOMAIN,
  verifyNodeRequest,
  verifyTaskResult,
} from '../../protocol/index.js';
import {
  SignatureVerifier,
  verifyEncodedFast,
  verifyNodeRequestFast,
  verifyTaskResultFast,
} from '../../signer/auth/verify.js';
import { VerifyPool } from '../../signer/auth/pool.js';
import { createHash } from 'node:crypto';
import {
  encodeAccountsMessage,
  principalOfKey,
  signAccountsMessage,
  taskRequestCV,
  type TaskRequest,
} from '../../protocol/accounts/index.js';
import { ESCROW } from './helpers.js';

const CHAIN = 0x80000000;
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const highS = (sig: string) =>
  sig.slice(0, 64) + (N - BigInt(`0x${sig.slice(64, 128)}`)).toString(16).padStart(64, '0') + sig.slice(128);
const flip = (sig: string, at: number) =>
  sig.slice(0, at) + ((parseInt(sig[at], 16) + 1) % 16).toString(16) + sig.slice(at + 1);

let clarityVerify: (hash: string, sig: string, pub: string) => boolean;
beforeAll(async () => {
  const simnet = await initSimnet('./Clarinet.toml');
  // runSnippet returns the serialized value: 0x03 is true, 0x04 false.
  clarityVerify = (hash, sig, pub) => simnet.runSnippet(`(secp256k1-verify 0x${hash} 0x${sig} 0x${pub})`) === '0x03';
}, 60_000);

describe('fast SIP-018 verification', () => {
  it('agrees with protocol/sip018 on valid signatures and on any change of field, key, r or s', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 2n ** 64n }),
        fc.string(),
        fc.string(),
        fc.nat(127),
        fc.constantFrom('valid', 'field', 'key', 'flip'),
        (taskId, input, output, at, kind) => {
          const key = randomPrivateKey();
          const pub = compressPublicKey(privateKeyToPublic(kind === 'key' ? randomPrivateKey() : key));
          const result = { escrow: ESCROW, taskId, inputHash: sha256Hex(input), outputHash: sha256Hex(output) };
          const sig =
            kind === 'flip' ? flip(signTaskResult(result, CHAIN, key), at) : signTaskResult(result, CHAIN, key);
          const checked = kind === 'field' ? { ...result, taskId: taskId + 1n } : result;
          const fast = verifyTaskResultFast(checked, CHAIN, sig, pub);
          expect(fast).toBe(verifyTaskResult(checked, CHAIN, sig, pub));
          expect(fast).toBe(kind === 'valid');
        },
      ),
      { numRuns: 200 },
    );
  });

  it('never accepts what Clarity secp256k1-verify refuses (recovery id, high s, flips)', () => {
    const key = randomPrivateKey();
    const pub = compressPublicKey(privateKeyToPublic(key));
    for (let i = 0; i < 40; i++) {
      const result = {
        escrow: ESCROW,
        taskId: BigInt(i),
        inputHash: sha256Hex(`in${i}`),
        outputHash: sha256Hex(`out${i}`),
      };
      const hash = structuredDataHash(taskResultMessageCV(result), domainCV(TASK_RESULT_DOMAIN, CHAIN));
      const sig = signTaskResult(result, CHAIN, key);
      const variants = [
        sig,
        `${sig.slice(0, 128)}01`,
        `${sig.slice(0, 128)}03`,
        `${sig.slice(0, 128)}04`,
        `${sig.slice(0, 128)}1b`,
        highS(sig),
        flip(sig, i % 128),
      ];
      for (const v of variants) {
        const fast = verifyTaskResultFast(result, CHAIN, v, pub);
        if (fast) expect(clarityVerify(hash, v, pub), `accepted ${v}`).toBe(true);
      }
      expect(verifyTaskResultFast(result, CHAIN, sig, pub)).toBe(true);
      expect(verifyTaskResultFast(result, CHAIN, highS(sig), pub)).toBe(false);
    }
  });

  it('agrees on node requests and rejects malformed keys and signatures', () => {
    const key = randomPrivateKey();
    const pub = compressPublicKey(privateKeyToPublic(key));
    const req = {
      method: 'POST',
      path: '/api/v1/tasks/complete',
      bodyHash: sha256Hex('{}'),
      timestamp: 1_700_000_000_000,
    };
    const sig = signNodeRequest(req, CHAIN, key);
    expect(verifyNodeRequestFast(req, CHAIN, sig, pub)).toBe(true);
    expect(verifyNodeRequest(req, CHAIN, sig, pub)).toBe(true);
    expect(verifyNodeRequestFast({ ...req, timestamp: req.timestamp + 1 }, CHAIN, sig, pub)).toBe(false);
    expect(verifyNodeRequestFast(req, CHAIN, sig, `02${'ff'.repeat(32)}`)).toBe(false);
    expect(verifyNodeRequestFast(req, CHAIN, sig.toUpperCase(), pub)).toBe(false);
    expect(verifyNodeRequestFast(req, CHAIN, 'ab', pub)).toBe(false);
    expect(verifyNodeRequestFast({ ...req, bodyHash: 'nothex' }, CHAIN, sig, pub)).toBe(false);
  });

  it('gives the same answers on worker threads as inline, for many checks at once', async () => {
    const threaded = new SignatureVerifier(2);
    try {
      const key = randomPrivateKey();
      const pub = compressPublicKey(privateKeyToPublic(key));
      const cases = Array.from({ length: 200 }, (_, i) => {
        const result = {
          escrow: ESCROW,
          taskId: BigInt(i),
          inputHash: sha256Hex(`i${i}`),
          outputHash: sha256Hex(`o${i}`),
        };
        const sig = signTaskResult(result, CHAIN, key);
        const variant = [sig, flip(sig, i % 128), highS(sig), `${sig.slice(0, 128)}07`][i % 4];
        const signer = i % 5 === 0 ? `02${'ff'.repeat(32)}` : pub;
        return { result, variant, signer };
      });
      const answers = await Promise.all(cases.map((c) => threaded.taskResult(c.result, CHAIN, c.variant, c.signer)));
      expect(answers).toEqual(cases.map((c) => verifyTaskResultFast(c.result, CHAIN, c.variant, c.signer)));
      expect(answers.filter(Boolean).length).toBeGreaterThan(30);
    } finally {
      await threaded.close();
    }
  });

  it('sends the single checks asked for in one turn of the event loop to the threads as one message', async () => {
    const threaded = new SignatureVerifier(1);
    const messages = vi.spyOn(VerifyPool.prototype, 'verifyDigests');
    try {
      const key = randomPrivateKey();
      const pub = compressPublicKey(privateKeyToPublic(key));
      const results = Array.from({ length: 40 }, (_, i) => ({
        escrow: ESCROW,
        taskId: BigInt(i),
        inputHash: sha256Hex(`i${i}`),
        outputHash: sha256Hex(`o${i}`),
      }));
      const answers = await Promise.all(
        results.map((r, i) => threaded.taskResult(r, CHAIN, signTaskResult(i % 2 ? r : results[0]!, CHAIN, key), pub)),
      );
      expect(answers).toEqual(results.map((_, i) => i % 2 === 1 || i === 0));
      expect(messages).toHaveBeenCalledTimes(1);
      expect(messages.mock.calls[0]![0]).toHaveLength(40);
    } finally {
      messages.mockRestore();
      await threaded.close();
    }
  });

  it('checks a batch over digests on threads (libsecp256k1, one message per thread) with the same answers as OpenSSL inline, and as Clarity on the accepted ones', async () => {
    const threaded = new SignatureVerifier(2);
    const inline = new SignatureVerifier(0);
    try {
      const key = randomPrivateKey();
      const other = randomPrivateKey();
      const pub = compressPublicKey(privateKeyToPublic(key));
      const otherPub = compressPublicKey(privateKeyToPublic(other));
      const account = principalOfKey(pub, CHAIN);
      const variants = [
        (sig: string) => sig,
        (sig: string, i: number) => flip(sig, i % 128),
        highS,
        (sig: string) => `${sig.slice(0, 128)}02`,
        (sig: string) => `${sig.slice(0, 128)}07`,
        (sig: string) => N.toString(16) + sig.slice(64),
        (sig: string) => sig.slice(0, 64) + '0'.repeat(64) + sig.slice(128),
        (sig: string) => '0'.repeat(64) + sig.slice(64),
        (sig: string) => sig.toUpperCase(),
        (sig: string) => sig.slice(0, 128),
      ];
      const cases = Array.from({ length: 300 }, (_, i) => {
        const request: TaskRequest = {
          account,
          market: `${account}.accounts`,
          modelOutput: BigInt(i),
          inputHash: sha256Hex(`in${i}`),
          maxFee: 1000n + BigInt(i),
          expiry: 1_900_000_000n,
          security: 1n,
          nonce: BigInt(i) * 7919n,
        };
        const encoded = encodeAccountsMessage(taskRequestCV(request), CHAIN);
        const signature = variants[i % variants.length]!(
          signAccountsMessage(taskRequestCV(request), CHAIN, i % 13 === 0 ? other : key),
          i,
        );
        const publicKey = i % 17 === 0 ? `02${'ff'.repeat(32)}` : i % 19 === 0 ? otherPub : pub;
        // Every third case leaves the digest to the verifier.
        return {
          encoded,
          signature,
          publicKey,
          ...(i % 3 === 0 ? {} : { digest: createHash('sha256').update(encoded).digest() }),
        };
      });
      const expected = cases.map((c) => verifyEncodedFast(c.encoded, c.signature, c.publicKey));
      expect(await threaded.encodedMany(cases)).toEqual(expected);
      expect(await inline.encodedMany(cases)).toEqual(expected);
      expect(await threaded.encodedMany([])).toEqual([]);
      expect(expected.filter(Boolean).length).toBeGreaterThan(15);
      expect(expected.filter((ok) => !ok).length).toBeGreaterThan(200);
      cases.forEach(
        (c, i) => expected[i] && expect(clarityVerify(sha256Hex(c.encoded), c.signature, c.publicKey)).toBe(true),
      );
    } finally {
      await threaded.close();
    }
  });
});
