/**
 * Canonical form of a 65-byte RSV secp256k1 signature (r ‖ s ‖ recovery byte, as hex).
 *
 * ECDSA is malleable: from one signature anyone can make others that check under the same key
 * without the private key, by replacing s with n - s or by changing the recovery byte (which a
 * verifier that does not recover ignores, and Clarity's `secp256k1-verify` accepts from 0 to 3).
 * Every such copy would pass as a "new" signature wherever signatures are counted or deduplicated
 * (the signer's replay cache, results posted on chain). So the marketplace accepts only the form
 * honest signers produce (libsecp256k1 and stacks.js both sign this way): s at most n/2 and a
 * recovery byte of 00 or 01; and anything that identifies a signature uses (r, s) only.
 */

/** Half the secp256k1 group order: a signature with a larger s is the malleated twin of a low-s one. */
export const SECP256K1_HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

/**
 * Why `signature` (130 hex characters) is not canonical, in words a node operator can act on,
 * or null when it is canonical. Does not check that it verifies.
 */
export function canonicalSignatureProblem(signature: string): string | null {
  if (!/^[0-9a-fA-F]{130}$/.test(signature))
    return 'a signature must be 65 bytes (r ‖ s ‖ recovery byte) as 130 hex characters';
  const v = parseInt(signature.slice(128), 16);
  if (v > 1) return `the recovery byte is ${signature.slice(128)}, only 00 or 01 are accepted`;
  const s = BigInt(`0x${signature.slice(64, 128)}`);
  if (s === 0n) return 's is zero';
  if (s > SECP256K1_HALF_N)
    return 's is above n/2 (a high-s signature); sign with libsecp256k1 or stacks.js, which produce low s';
  return null;
}

/** True for a well-formed low-s signature with recovery byte 00 or 01. */
export function isCanonicalSignature(signature: string): boolean {
  return canonicalSignatureProblem(signature) === null;
}

/** What identifies a signature for replay and deduplication: r ‖ s (128 lowercase hex characters), without the recovery byte. */
export function signatureReplayKey(signature: string): string {
  return signature.slice(0, 128).toLowerCase();
}
