/**
 * Content hashes used across the system: inputs and outputs are identified by the sha256 of
 * their bytes, and a JSON value by the sha256 of its canonical form (sorted keys, no spaces).
 */
import { createHash } from 'node:crypto';

/** sha256 of bytes or a UTF-8 string, as 64 lowercase hex characters. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * JSON with object keys sorted at every level, so that two parties who parse and re-serialize
 * the same value get the same bytes. Written here because the hash must not depend on a
 * serializer's key order; numbers use JavaScript's shortest round-trip form.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value))
      throw new Error(`cannot hash a non-finite number (${value})`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.keys(value as Record<string, unknown>)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

/** sha256 of a JSON value's canonical form: how output hashes are computed. */
export function jsonHash(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}
