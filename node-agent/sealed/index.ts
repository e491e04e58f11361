/**
 * The node's half of encrypted tasks (protocol/privacy/sealed): open an input sealed to this
 * node's key and check its envelope against the task's input hash, then seal the canonical output
 * to the requester and commit to it with the envelope's salt. Both run on a pool worker (see
 * ../pool): the ECIES of @stacks/encryption is pure JavaScript, and measured on this machine
 * (2 cores) a 110 KB input took ~10 ms to unseal and even a small output ~5 ms to seal (the
 * secp256k1 key agreement alone), which on the main thread would hold up every other task's posts
 * and pulls. Failures come back as values, not throws: a worker passes on only an error's name and
 * message, and the code is what the failure report leads with.
 */
import { openEnvelope, outputCommitment, SealedDataError, sealTo, sha256Hex, unseal } from '../../protocol/index.js';

/** An opened input: the inner bytes the model runs on, their sha256, and what the output is bound to. */
export interface OpenedInput {
  ok: true;
  inputBytes: Uint8Array;
  /** sha256 of `inputBytes` (the validator checks the bytes against it; the envelope was checked against the task). */
  inputSha256: string;
  /** The envelope's salt (hex), which keys the output commitment. */
  salt: string;
  /** The requester's public key the output is sealed to. */
  replyTo: string;
}

/** A sealed input that could not be opened: `error` is "<code>: <why>" and quotes no plaintext. */
export interface UnopenedInput {
  ok: false;
  error: string;
}

/** Unseals `sealed` with the node's key and checks the envelope against the task's input hash. */
export async function openSealedInput(
  privateKey: string,
  sealed: Uint8Array,
  inputHash: string,
): Promise<OpenedInput | UnopenedInput> {
  try {
    const envelope = openEnvelope(await unseal(privateKey, sealed), inputHash);
    const { inputBytes } = envelope;
    return {
      ok: true,
      inputBytes,
      inputSha256: sha256Hex(inputBytes),
      salt: envelope.salt,
      replyTo: envelope.reply_to,
    };
  } catch (err) {
    if (err instanceof SealedDataError) return { ok: false, error: `${err.code}: ${err.message}` };
    throw err;
  }
}

/** An output sealed for the requester, with the two hashes the node signs. */
export interface SealedOutput {
  /** The task's output hash: HMAC-SHA256 of the canonical output JSON keyed by the salt. */
  outputHash: string;
  /** The ECIES cipher object as canonical JSON: exactly what is posted as `output`, and hashed. */
  sealedJson: string;
  /** sha256 of `sealedJson` (what the signer's jsonHash of the parsed output gives). */
  sealedHash: string;
}

/** Commits to the canonical output JSON with the salt and seals it to the requester's key. */
export async function sealOutput(outputJson: string, salt: string, replyTo: string): Promise<SealedOutput> {
  const sealed = await sealTo(replyTo, new TextEncoder().encode(outputJson));
  return {
    outputHash: outputCommitment(salt, outputJson),
    sealedJson: Buffer.from(sealed).toString('utf8'),
    sealedHash: sha256Hex(sealed),
  };
}
