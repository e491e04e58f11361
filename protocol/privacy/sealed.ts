/**
 * Encrypted tasks (privacy mode `encrypted`, issue 14): what the requester, the node and the
 * requester again do to the bytes, so that the signer in between only ever relays ciphertext.
 *
 * - The requester wraps its input in an envelope `{v, salt, reply_to, content_type, input}`
 *   (canonical JSON): `reply_to` is the requester's public key, which the output is sealed to,
 *   and `salt` is 32 random bytes. The task's input hash is sha256 of the envelope's bytes, so
 *   the hash on chain binds the plaintext and the reply key, and the salt keeps anyone holding the
 *   hash from confirming a guess of a low-entropy input.
 * - The envelope is sealed to each node offered by a reservation with ECIES as @stacks/encryption
 *   does it (secp256k1 ECDH, AES-256-CBC, HMAC-SHA256 over iv, ephemeral key and ciphertext).
 * - The node opens it, checks sha256(envelope) against the task's input hash (a swapped or
 *   re-encrypted ciphertext is refused, never run), runs the model, and commits to the canonical
 *   output with HMAC-SHA256 keyed by the salt: that commitment is the output hash it signs for the
 *   chain. Nodes that ran the same input agree on it; the signer, without the salt, cannot test
 *   guesses against it.
 * - The node seals the output JSON to `reply_to` and signs {task, output hash, sha256 of the sealed
 *   output} (./sip018 sealed-output message): the requester holds the node's word for the exact
 *   ciphertext it was given, and checks the decrypted output against the output hash settled on chain.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { decryptECIES, encryptECIES, type CipherObject } from '@stacks/encryption';
import { canonicalJson, sha256Hex } from '../hash/index.js';

/** Version of the envelope format; a node refuses any other. */
export const ENVELOPE_VERSION = 1;

/** The plaintext a requester seals: its input bytes (base64) with a salt and the key to seal the output to. */
export interface SealedEnvelope {
  v: typeof ENVELOPE_VERSION;
  /** 32 random bytes, hex. */
  salt: string;
  /** Compressed secp256k1 public key (hex) the node seals the output to. */
  reply_to: string;
  /** The input's content type, as an unencrypted upload would have sent it. */
  content_type: string;
  /** The input's bytes, base64. */
  input: string;
}

/** Why a sealed input or output was refused; the code is what clients switch on. */
export class SealedDataError extends Error {
  override name = 'SealedDataError';
  constructor(
    readonly code: 'ciphertext_invalid' | 'ciphertext_mismatch' | 'envelope_invalid',
    message: string,
  ) {
    super(message);
  }
}

const PUBLIC_KEY = /^0[23][0-9a-f]{64}$/;

/** Builds an envelope around `input` and returns its bytes and their sha256 (the task's input hash). */
export function buildEnvelope(
  input: Uint8Array,
  opts: { replyTo: string; contentType?: string; salt?: Uint8Array },
): { envelope: SealedEnvelope; bytes: Uint8Array; inputHash: string } {
  const replyTo = opts.replyTo.toLowerCase();
  if (!PUBLIC_KEY.test(replyTo))
    throw new Error('reply_to must be a compressed secp256k1 public key (66 hex characters)');
  const salt = opts.salt ?? randomBytes(32);
  if (salt.length !== 32) throw new Error('salt must be 32 bytes');
  const envelope: SealedEnvelope = {
    v: ENVELOPE_VERSION,
    salt: Buffer.from(salt).toString('hex'),
    reply_to: replyTo,
    content_type: opts.contentType ?? 'application/json',
    input: Buffer.from(input).toString('base64'),
  };
  const bytes = new TextEncoder().encode(canonicalJson(envelope));
  return { envelope, bytes, inputHash: sha256Hex(bytes) };
}

/** Parses envelope bytes and checks them against the input hash the task carries (on chain). */
export function openEnvelope(bytes: Uint8Array, inputHash: string): SealedEnvelope & { inputBytes: Uint8Array } {
  const actual = sha256Hex(bytes);
  if (actual !== inputHash.toLowerCase())
    throw new SealedDataError(
      'ciphertext_mismatch',
      `the sealed input decrypts to an envelope whose sha256 is ${actual}, not the task's input hash ${inputHash}: it was swapped or sealed for another task`,
    );
  let e: SealedEnvelope;
  try {
    e = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new SealedDataError('envelope_invalid', 'the sealed input is not an envelope (UTF-8 JSON)');
  }
  if (
    e?.v !== ENVELOPE_VERSION ||
    typeof e.salt !== 'string' ||
    !/^[0-9a-f]{64}$/.test(e.salt) ||
    typeof e.reply_to !== 'string' ||
    !PUBLIC_KEY.test(e.reply_to) ||
    typeof e.content_type !== 'string' ||
    typeof e.input !== 'string'
  )
    throw new SealedDataError(
      'envelope_invalid',
      `the envelope must be {v: ${ENVELOPE_VERSION}, salt: 64 hex, reply_to: compressed public key, content_type, input: base64}`,
    );
  return { ...e, inputBytes: Buffer.from(e.input, 'base64') };
}

/** Seals bytes to a public key (ECIES); returns the ciphertext object as canonical JSON bytes (what is stored and hashed). */
export async function sealTo(publicKey: string, plaintext: Uint8Array): Promise<Uint8Array> {
  const cipher = await encryptECIES(publicKey, plaintext, false, 'base64');
  return new TextEncoder().encode(canonicalJson(cipher));
}

/** Opens bytes sealed by sealTo with the matching private key; a wrong key or any altered byte is `ciphertext_invalid`. */
export async function unseal(privateKey: string, sealed: Uint8Array): Promise<Uint8Array> {
  let cipher: CipherObject;
  try {
    cipher = JSON.parse(new TextDecoder().decode(sealed));
  } catch {
    throw new SealedDataError('ciphertext_invalid', 'the sealed data is not an ECIES cipher object (JSON)');
  }
  try {
    const plain = await decryptECIES(privateKey.slice(0, 64), { ...cipher, wasString: false });
    return typeof plain === 'string' ? new TextEncoder().encode(plain) : plain;
  } catch (err) {
    throw new SealedDataError(
      'ciphertext_invalid',
      `the sealed data does not open with this key (${(err as Error).message}): it was sealed to another key or altered`,
    );
  }
}

/** The output hash of an encrypted task: HMAC-SHA256 of the canonical output JSON, keyed by the envelope's salt. */
export function outputCommitment(saltHex: string, outputJson: string): string {
  return createHmac('sha256', Buffer.from(saltHex, 'hex')).update(outputJson).digest('hex');
}
