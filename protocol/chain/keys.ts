/** The one form of a Stacks private key every part reads: from config files, env vars and key files. */
import { z } from 'zod';

/** 32 bytes of hex, optionally followed by `01` (the "compressed public key" flag stacks.js appends). */
export const PRIVATE_KEY_PATTERN = /^[0-9a-fA-F]{64}(01)?$/;

/** What a refused key is told (never the key itself). */
export const PRIVATE_KEY_HINT = 'must be a hex secp256k1 private key (64 hex characters, or 66 ending in 01)';

/** zod schema of a hex private key. */
export const privateKeyHex = z.string().regex(PRIVATE_KEY_PATTERN, PRIVATE_KEY_HINT);

/** True when `text` is a hex private key. */
export function isPrivateKey(text: string): boolean {
  return PRIVATE_KEY_PATTERN.test(text);
}
