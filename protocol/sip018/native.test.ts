/**
 * libsecp256k1's two builds (./native.ts) sign byte for byte alike, and as stacks.js does: over
 * random keys and digests, at the edges of the key range, and over the SIP-018 messages a node
 * signs (task results, requests, sealed outputs) with the functions the node agent calls.
 */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  Cl,
  compressPublicKey,
  encodeStructuredDataBytes,
  privateKeyToPublic,
  randomPrivateKey,
  signMessageHashRsv,
  signStructuredData,
  uncompressPublicKey,
} from '@stacks/transactions';
import { sha256Hex } from '../hash/index.js';
import {
  CHAIN_ID,
  NODE_REQUEST_DOMAIN,
  SEALED_OUTPUT_DOMAIN,
  TASK_RESULT_DOMAIN,
  domainCV,
  encodeNodeRequest,
  encodeTaskResult,
  isCanonicalSignature,
  libsecp256k1,
  nodeRequestMessageCV,
  signNodeRequest,
  signSealedOutput,
  signTaskResult,
  taskResultMessageCV,
  verifyNodeRequest,
  verifySealedOutput,
  verifyTaskResult,
} from './index.js';

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const native = libsecp256k1();
const wasm = libsecp256k1({ wasm: true });
const secretBytes = (n: bigint) => Buffer.from(n.toString(16).padStart(64, '0'), 'hex');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest();

describe('libsecp256k1 natively and in WebAssembly', () => {
  it('loads the native addon here (linux-x64 and darwin-arm64 ship it), and WebAssembly when asked', () => {
    if (
      `${process.platform}-${process.arch}` === 'linux-x64' ||
      `${process.platform}-${process.arch}` === 'darwin-arm64'
    )
      expect(native.native).toBe(true);
    expect(wasm.native).toBe(false);
    expect(libsecp256k1()).toBe(native);
  });

  it('sign random digests with random keys byte for byte alike, as stacks.js does, low s, and each build checks the other', () => {
    for (let i = 0; i < 300; i++) {
      const privateKey = randomPrivateKey();
      const secret = Buffer.from(privateKey.slice(0, 64), 'hex');
      const digest = randomBytes(32);
      const a = native.sign(digest, secret);
      const b = wasm.sign(digest, secret);
      expect(a.toString('hex')).toBe(b.toString('hex'));
      expect(a.toString('hex')).toBe(signMessageHashRsv({ messageHash: digest.toString('hex'), privateKey }));
      expect(a).toHaveLength(65);
      expect(isCanonicalSignature(a.toString('hex'))).toBe(true);
      const pub = compressPublicKey(privateKeyToPublic(privateKey));
      for (const key of [Buffer.from(pub, 'hex'), Buffer.from(uncompressPublicKey(pub), 'hex')]) {
        expect(native.verify(digest, key, a.subarray(0, 64))).toBe(true);
        expect(wasm.verify(digest, key, a.subarray(0, 64))).toBe(true);
        const other = Buffer.from(digest);
        other[i % 32]! ^= 1;
        expect(native.verify(other, key, a.subarray(0, 64))).toBe(false);
        expect(wasm.verify(other, key, a.subarray(0, 64))).toBe(false);
      }
    }
  });

  it('sign alike at the edges of the key range, digests of n and more included (the nonce comes from the digest mod n), and refuse 0 and n alike', () => {
    const digests = [
      Buffer.alloc(32),
      secretBytes(N - 1n),
      secretBytes(N),
      secretBytes(N + 1n),
      Buffer.alloc(32, 0xff),
      sha256(Buffer.from('edge')),
    ];
    for (const k of [1n, 2n, N / 2n, N - 2n, N - 1n]) {
      for (const digest of digests) {
        const a = native.sign(digest, secretBytes(k)).toString('hex');
        expect(a).toBe(wasm.sign(digest, secretBytes(k)).toString('hex'));
        expect(a).toBe(
          signMessageHashRsv({ messageHash: digest.toString('hex'), privateKey: k.toString(16).padStart(64, '0') }),
        );
      }
    }
    for (const k of [0n, N, N + 1n, (1n << 256n) - 1n]) {
      expect(() => native.sign(digests[5]!, secretBytes(k))).toThrow();
      expect(() => wasm.sign(digests[5]!, secretBytes(k))).toThrow();
    }
  });

  it("sign a node's SIP-018 messages (results, requests, sealed outputs) as stacks.js does, and they verify", () => {
    const escrows = [
      'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.inference-escrow',
      'SP2J6ZY48GV1EZ5V2V5RB9MP66SW86PYKKNRV9EJ7.escrow-v2',
    ];
    for (let i = 0; i < 60; i++) {
      const privateKey = i % 2 ? randomPrivateKey() : randomPrivateKey().slice(0, 64);
      const secret = Buffer.from(privateKey.slice(0, 64), 'hex');
      const pub = compressPublicKey(privateKeyToPublic(privateKey));
      const chainId = [CHAIN_ID.testnet, CHAIN_ID.mainnet, 0x80000001][i % 3]!;
      const result = {
        escrow: escrows[i % 2]!,
        taskId: BigInt(i) << BigInt(i % 100),
        inputHash: sha256Hex(`in ${i}`),
        outputHash: sha256Hex(`out ${i}`),
      };
      const signed = signTaskResult(result, chainId, privateKey);
      expect(signed).toBe(
        signStructuredData({
          message: taskResultMessageCV(result),
          domain: domainCV(TASK_RESULT_DOMAIN, chainId),
          privateKey,
        }),
      );
      expect(signed).toBe(wasm.sign(sha256(encodeTaskResult(result, chainId)), secret).toString('hex'));
      expect(verifyTaskResult(result, chainId, signed, pub)).toBe(true);

      const req = {
        method: ['GET', 'POST'][i % 2]!,
        path: `/api/v1/nodes/n-${i}/tasks?wait=20&max=${i}`,
        bodyHash: sha256Hex(i % 2 ? `{"i":${i}}` : ''),
        timestamp: 1_700_000_000_000 + i * 997,
      };
      const requested = signNodeRequest(req, chainId, privateKey);
      expect(requested).toBe(
        signStructuredData({
          message: nodeRequestMessageCV(req),
          domain: domainCV(NODE_REQUEST_DOMAIN, chainId),
          privateKey,
        }),
      );
      expect(requested).toBe(wasm.sign(sha256(encodeNodeRequest(req, chainId)), secret).toString('hex'));
      expect(verifyNodeRequest(req, chainId, requested, pub)).toBe(true);

      const out = {
        escrow: result.escrow,
        taskId: result.taskId,
        outputHash: result.outputHash,
        sealedHash: sha256Hex(`sealed ${i}`),
      };
      const message = Cl.tuple({
        escrow: Cl.principal(out.escrow),
        'task-id': Cl.uint(out.taskId),
        'output-hash': Cl.bufferFromHex(out.outputHash),
        'sealed-hash': Cl.bufferFromHex(out.sealedHash),
      });
      const domain = domainCV(SEALED_OUTPUT_DOMAIN, chainId);
      const sealed = signSealedOutput(out, chainId, privateKey);
      expect(sealed).toBe(signStructuredData({ message, domain, privateKey }));
      expect(sealed).toBe(wasm.sign(sha256(encodeStructuredDataBytes({ message, domain })), secret).toString('hex'));
      expect(verifySealedOutput(out, chainId, sealed, pub)).toBe(true);
    }
  });
});
