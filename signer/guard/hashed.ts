/**
 * The guard on inputs whose sha256 is fixed before the signer sees them: a chain task's input hash
 * is on chain, and a prepaid request signs its input_hash. Masking cannot be sound there: the node
 * checks the bytes it gets against the task's input_hash and would refuse masked ones, and were it
 * told the masked hash instead, its signed result (and a prepaid receipt's leaf, which pairs the
 * signed request with the output hash) would bind an output to an input the requester never sent.
 * So a finding the level would mask is refused like one it refuses, and audited as `refuse`; the
 * requester removes or masks the data itself and uploads (or signs) again.
 *
 * What is read as text: a JSON blob whole (the OIP `{"inputs": [...]}`: BYTES strings, names,
 * parameters); of a binary tensor blob, its JSON header line (names, shapes, parameters) only, since
 * its tensors are fixed-width numbers (BYTES tensors exist in JSON only) and the guard finds text;
 * other bytes as UTF-8 text. An ECIES cipher object is ciphertext and is not read.
 */
import { isBinaryInputs, type DataLevel } from '../../protocol/index.js';
import type { SignerDatabase } from '../db/index.js';
import { ApiError } from '../errors.js';
import { auditFindings, type GuardSubject } from './apply.js';
import type { PolicyGuard } from './index.js';

const decoder = new TextDecoder();
const CIPHER_FIELDS = ['iv', 'ephemeralPK', 'cipherText', 'mac'] as const;
/** What else a CipherObject may hold: neither is text a person wrote. */
const CIPHER_EXTRAS: Record<string, (v: unknown) => boolean> = {
  wasString: (v) => typeof v === 'boolean',
  cipherTextEncoding: (v) => v === 'hex' || v === 'base64',
};

/**
 * The @stacks/encryption CipherObject form: encrypted to a node, so nothing for the guard to read.
 * Only those fields: an input that merely carries them beside others (`inputs` with personal data,
 * which the node's OIP parser would read and ignore the rest) is guarded like any other.
 */
function isCipherObject(doc: unknown): boolean {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return false;
  const o = doc as Record<string, unknown>;
  return (
    CIPHER_FIELDS.every((k) => typeof o[k] === 'string') &&
    Object.keys(o).every((k) => (CIPHER_FIELDS as readonly string[]).includes(k) || CIPHER_EXTRAS[k]?.(o[k]) === true)
  );
}

/** What of an input blob the guard reads (see above); undefined for ciphertext. */
export function guardableOf(bytes: Uint8Array): unknown {
  if (isBinaryInputs(bytes)) return JSON.parse(decoder.decode(bytes.subarray(0, bytes.indexOf(0x0a))));
  const text = decoder.decode(bytes);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return text;
  }
  return isCipherObject(doc) ? undefined : doc;
}

/**
 * Guards an input whose hash is fixed at `level`: every finding is audited (masks as refusals) and
 * any finding that would not pass is a 422 policy_refused naming rule and field path. Returns how many
 * findings passed (each audited): 0 for an input with nothing to report.
 */
export function guardHashedInput(
  store: SignerDatabase,
  guard: PolicyGuard,
  who: GuardSubject,
  bytes: Uint8Array,
  level: DataLevel,
  now = Date.now(),
): number {
  if (!guard.enabled) return 0;
  const doc = guardableOf(bytes);
  if (doc === undefined) return 0;
  const verdict = guard.check(doc, level);
  if (verdict.findings.length === 0) return 0;
  const wouldMask = new Set<string>();
  const findings = verdict.findings.map((f) => {
    if (f.action !== 'mask') return f;
    wouldMask.add(`${f.rule} at ${f.path}`);
    return { ...f, action: 'refuse' as const };
  });
  auditFindings(store, who, level, findings, now);
  const refused = findings.filter((f) => f.action === 'refuse').map((f) => `${f.rule} at ${f.path}`);
  if (refused.length === 0) return findings.length;
  const masked = wouldMask.size
    ? ` (${[...wouldMask].join(', ')} would be masked on a direct call, but this input's sha256 is fixed, on chain or in a signed request, so the signer cannot change it)`
    : '';
  throw new ApiError(
    'policy_refused',
    `personal data that data level ${level} does not let out: ${refused.join(', ')}${masked}; remove or mask it in the input, then upload or sign it again`,
  );
}
