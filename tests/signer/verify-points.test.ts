/**
 * The verification threads get each public key as its uncompressed point (signer/auth/verify.ts
 * pointOf), which libsecp256k1 parses without the square root a compressed key costs on every
 * check: the same point, so the same answers as OpenSSL inline, for keys of both y parities. The
 * threads run libsecp256k1 natively where the `secp256k1` addon loads, else its WebAssembly build
 * (SIGNER_VERIFY_WASM=1 forces it): both give the same answer on every check, malformed ones included.
 * What a node signs natively (protocol/sip018/native.ts) is what it would sign in WebAssembly, and
 * the signer's checks take it.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it, vi } from 'vitest';
import { compressPublicKey, privateKeyToPublic, randomPrivateKey } from '@stacks/transactions';
import {
  encodeNodeRequest,
  encodeTaskResult,
  libsecp256k1,
  sha256Hex,
  signNodeRequest,
  signTaskResult,
} from '../../protocol/index.js';
import { SignatureVerifier, verifyNodeRequestFast, verifyTaskResultFast } from '../../signer/auth/verify.js';
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

  it("takes a node's native signatures, the same bytes as WebAssembly's, inline and on native and WebAssembly threads", async () => {
    const wasm = libsecp256k1({ wasm: true });
    const signed = Array.from({ length: 24 }, (_, i) => {
      const key = randomPrivateKey();
      const pub = compressPublicKey(privateKeyToPublic(key));
      const secret = Buffer.from(key.slice(0, 64), 'hex');
      const digest = (b: Uint8Array) => createHash('sha256').update(b).digest();
      const result = {
        escrow: ESCROW,
        taskId: BigInt(i),
        inputHash: sha256Hex(`i${i}`),
        outputHash: sha256Hex(`o${i}`),
      };
      const req = { method: 'POST', path: '/api/v1/tasks/complete', bodyHash: sha256Hex(`b${i}`), timestamp: 1e12 + i };
      const resultSignature = signTaskResult(result, CHAIN, key);
      const requestSignature = signNodeRequest(req, CHAIN, key);
      expect(resultSignature).toBe(wasm.sign(digest(encodeTaskResult(result, CHAIN)), secret).toString('hex'));
      expect(requestSignature).toBe(wasm.sign(digest(encodeNodeRequest(req, CHAIN)), secret).toString('hex'));
      return { pub, result, req, resultSignature, requestSignature };
    });
    for (const s of signed) {
      expect(verifyTaskResultFast(s.result, CHAIN, s.resultSignature, s.pub)).toBe(true);
      expect(verifyNodeRequestFast(s.req, CHAIN, s.requestSignature, s.pub)).toBe(true);
    }
    for (const forceWasm of [false, true]) {
      if (forceWasm) vi.stubEnv('SIGNER_VERIFY_WASM', '1');
      const threaded = new SignatureVerifier(1);
      try {
        const answers = await Promise.all(
          signed.flatMap((s) => [
            threaded.taskResult(s.result, CHAIN, s.resultSignature, s.pub),
            threaded.nodeRequest(s.req, CHAIN, s.requestSignature, s.pub),
          ]),
        );
        expect(answers).toEqual(signed.flatMap(() => [true, true]));
      } finally {
        await threaded.close();
        vi.unstubAllEnvs();
      }
    }
  });

  it('answers the same natively and in WebAssembly, on valid, tampered, high-s, overflowing and off-curve checks', async () => {
    const tiny = createRequire(import.meta.url)('tiny-secp256k1') as typeof import('tiny-secp256k1');
    const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const checks = Array.from({ length: 120 }, (_, i) => {
      const priv = Buffer.from(randomPrivateKey().slice(0, 64), 'hex');
      const digest = createHash('sha256').update(`m${i}`).digest();
      let rs = Buffer.from(tiny.sign(digest, priv));
      const publicKey = Buffer.from(tiny.pointFromScalar(priv, false)!);
      const kind = i % 6;
      if (kind === 1) rs[5]! ^= 1;
      if (kind === 2) digest[0]! ^= 1;
      if (kind === 3) rs = Buffer.concat([Buffer.alloc(32, 0xff), rs.subarray(32)]);
      if (kind === 4) {
        const high = N - BigInt(`0x${rs.subarray(32).toString('hex')}`);
        rs = Buffer.concat([rs.subarray(0, 32), Buffer.from(high.toString(16).padStart(64, '0'), 'hex')]);
      }
      if (kind === 5) publicKey[64]! ^= 1;
      return { digest, rs, publicKey };
    });
    const answers = async () => {
      const pool = new VerifyPool(1);
      try {
        return await pool.verifyDigests(checks);
      } finally {
        await pool.close();
      }
    };
    const native = await answers();
    vi.stubEnv('SIGNER_VERIFY_WASM', '1');
    try {
      expect(await answers()).toEqual(native);
    } finally {
      vi.unstubAllEnvs();
    }
    expect(native).toEqual(checks.map((_, i) => i % 6 === 0));
  });
});
