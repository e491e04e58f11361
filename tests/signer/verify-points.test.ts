/**
 * The verification threads get each public key as its uncompressed point (signer/auth/verify.ts
 * pointOf), which libsecp256k1 parses without the square root a compressed key costs on every
 * check: the same point, so the same answers as OpenSSL inline, for keys of both y parities.
 */
import { describe, expect, it, vi } from 'vitest';
import { compressPublicKey, privateKeyToPublic, randomPrivateKey } from '@stacks/transactions';
import { sha256Hex, signTaskResult } from '../../protocol/index.js';
import { SignatureVerifier, verifyTaskResultFast } from '../../signer/auth/verify.js';
import { VerifyPool } from '../../signer/auth/pool.js';
import { ESCROW } from './helpers.js';

const CHAIN = 0x80000000;

describe('SignatureVerifier on threads', () => {
  it('sends uncompressed points and answers as the inline check for keys of either parity, refusing keys off the curve', async () => {
    const threaded = new SignatureVerifier(1);
    const messages = vi.spyOn(VerifyPool.prototype, 'verifyDigests');
    try {
      // Keys until both prefixes (02: even y, 03: odd y) are among them.
      const keys: { key: string; pub: string }[] = [];
      while (new Set(keys.map((k) => k.pub.slice(0, 2))).size < 2 || keys.length < 4) {
        const key = randomPrivateKey();
        keys.push({ key, pub: compressPublicKey(privateKeyToPublic(key)) });
      }
      const cases = keys.flatMap(({ key, pub }, i) => {
        const result = {
          escrow: ESCROW,
          taskId: BigInt(i),
          inputHash: sha256Hex(`i${i}`),
          outputHash: sha256Hex(`o${i}`),
        };
        const good = signTaskResult(result, CHAIN, key);
        const other = signTaskResult({ ...result, taskId: BigInt(i + 1) }, CHAIN, key);
        // x = 5 is on no point of the curve (5^3 + 7 is not a square mod p).
        const offCurve = `02${'0'.repeat(63)}5`;
        return [
          { result, signature: good, pub },
          { result, signature: other, pub },
          { result, signature: good, pub: offCurve },
          { result, signature: good, pub: `${pub.startsWith('02') ? '03' : '02'}${pub.slice(2)}` },
        ];
      });
      const answers = await Promise.all(cases.map((c) => threaded.taskResult(c.result, CHAIN, c.signature, c.pub)));
      expect(answers).toEqual(cases.map((c) => verifyTaskResultFast(c.result, CHAIN, c.signature, c.pub)));
      expect(answers).toEqual(cases.map((_, i) => i % 4 === 0));
      const sent = messages.mock.calls.flatMap(([checks]) => checks);
      expect(sent.length).toBeGreaterThan(0);
      for (const check of sent) {
        expect(check.publicKey).toHaveLength(65);
        expect(check.publicKey[0]).toBe(4);
      }
    } finally {
      messages.mockRestore();
      await threaded.close();
    }
  });
});
