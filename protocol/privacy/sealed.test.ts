import { describe, expect, it } from 'vitest';
import { compressPublicKey, privateKeyToPublic, randomPrivateKey } from '@stacks/transactions';
import { sha256Hex } from '../hash/index.js';
import { CHAIN_ID, signSealedOutput, verifySealedOutput } from '../sip018/index.js';
import { buildEnvelope, openEnvelope, outputCommitment, SealedDataError, sealTo, unseal } from './sealed.js';

const keyPair = () => {
  const privateKey = randomPrivateKey();
  return { privateKey, publicKey: compressPublicKey(privateKeyToPublic(privateKey)) };
};
const input = new TextEncoder().encode('{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}');
const codeOf = async (p: Promise<unknown> | (() => unknown)) => {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return err instanceof SealedDataError ? err.code : `not sealed: ${(err as Error).message}`;
  }
  return 'no error';
};

describe('sealed envelopes', () => {
  const requester = keyPair();
  const node = keyPair();

  it('round-trips an input through the node key and checks it against the input hash', async () => {
    const { bytes, inputHash } = buildEnvelope(input, { replyTo: requester.publicKey });
    const sealed = await sealTo(node.publicKey, bytes);
    expect(new TextDecoder().decode(sealed)).not.toContain('inputs');
    const opened = openEnvelope(await unseal(node.privateKey, sealed), inputHash);
    expect(Buffer.from(opened.inputBytes).equals(Buffer.from(input))).toBe(true);
    expect(opened.reply_to).toBe(requester.publicKey);
  });

  it('gives two envelopes of one input different hashes (the salt), so a hash confirms no guess', () => {
    const a = buildEnvelope(input, { replyTo: requester.publicKey });
    const b = buildEnvelope(input, { replyTo: requester.publicKey });
    expect(a.inputHash).not.toBe(b.inputHash);
    expect(a.inputHash).not.toBe(sha256Hex(input));
  });

  it('refuses a ciphertext sealed to another key, an altered one, and one of another envelope', async () => {
    const { bytes, inputHash } = buildEnvelope(input, { replyTo: requester.publicKey });
    const sealed = await sealTo(node.publicKey, bytes);
    expect(await codeOf(unseal(keyPair().privateKey, sealed))).toBe('ciphertext_invalid');
    const cipher = JSON.parse(new TextDecoder().decode(sealed));
    const flipped = Buffer.from(cipher.cipherText, 'base64');
    flipped[0] ^= 1;
    const altered = new TextEncoder().encode(JSON.stringify({ ...cipher, cipherText: flipped.toString('base64') }));
    expect(await codeOf(unseal(node.privateKey, altered))).toBe('ciphertext_invalid');
    const other = buildEnvelope(input, { replyTo: requester.publicKey });
    const swapped = await unseal(node.privateKey, await sealTo(node.publicKey, other.bytes));
    expect(await codeOf(() => openEnvelope(swapped, inputHash))).toBe('ciphertext_mismatch');
  });

  it('commits to an output with the salt: equal for equal salts, unguessable without it', () => {
    const salt = 'ab'.repeat(32);
    expect(outputCommitment(salt, '{"y":1}')).toBe(outputCommitment(salt, '{"y":1}'));
    expect(outputCommitment(salt, '{"y":1}')).not.toBe(outputCommitment('cd'.repeat(32), '{"y":1}'));
    expect(outputCommitment(salt, '{"y":1}')).not.toBe(sha256Hex('{"y":1}'));
  });

  it('signs the sealed output so the requester holds the node to its ciphertext', () => {
    const out = {
      escrow: 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.inference-escrow',
      taskId: 7n,
      outputHash: 'aa'.repeat(32),
      sealedHash: 'bb'.repeat(32),
    };
    const sig = signSealedOutput(out, CHAIN_ID.testnet, node.privateKey);
    expect(verifySealedOutput(out, CHAIN_ID.testnet, sig, node.publicKey)).toBe(true);
    expect(verifySealedOutput({ ...out, sealedHash: 'cc'.repeat(32) }, CHAIN_ID.testnet, sig, node.publicKey)).toBe(
      false,
    );
  });
});
