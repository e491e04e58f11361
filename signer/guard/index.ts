/**
 * The policy guard (seed 004): finds personal data in a clear-text input before it is dispatched
 * to a node and, by the policy of the input's data level, lets it pass, masks it, or refuses the
 * input. It returns findings with the rule and the field path, never the value, for the audit log.
 */
import { z } from 'zod';
import {
  DATA_LEVELS,
  GUARD_ACTIONS,
  PII_KINDS,
  type DataLevel,
  type GuardAction,
  type GuardFinding,
  type PiiKind,
} from '../../protocol/index.js';
import { findPii, type Span } from './detectors.js';

export { findPii, luhnValid, residentIdValid, type Span } from './detectors.js';
export { guardInputs, levelOf, modelLevel, type GuardSubject, type GuardedInputs } from './apply.js';
export { guardHashedInput, guardableOf } from './hashed.js';
export { guardUpload } from './uploads.js';
export { guardStoredInput, readLaxer, recordGuardLevel, type IngestedTask } from './stored.js';
export { clearTextRoute, markTrustedOnly, trustedOnlyTask, trustedNodeServes } from './trusted.js';

const action = z.enum(GUARD_ACTIONS);
const levelPolicy = z
  .object({
    /** What happens to personal data found in an input of this level. */
    action,
    /** Per-kind exceptions to `action`. */
    rules: z.partialRecord(z.enum(PII_KINDS), action).default({}),
  })
  .strict();

/** `[guard]` in signer.toml. */
export const guardConfigSchema = z
  .object({
    /** Off: inputs go out as sent, and nothing is audited. */
    enabled: z.boolean().default(true),
    /** The kinds looked for; the others are not searched. */
    kinds: z.array(z.enum(PII_KINDS)).default([...PII_KINDS]),
    /** The level of a token or model that sets none. */
    default_level: z.enum(DATA_LEVELS).default('L1'),
    L0: levelPolicy.default({ action: 'pass', rules: {} }),
    L1: levelPolicy.default({ action: 'mask', rules: {} }),
    L2: levelPolicy.default({ action: 'refuse', rules: {} }),
    /**
     * L2 inputs in clear text (not encrypted): `trusted_nodes` runs them only on nodes an admin marked
     * trusted (refused with policy_needs_trusted_node while none serving the model is online);
     * `refuse` takes none (policy_needs_encryption): L2 must then come encrypted.
     */
    l2_clear_text: z.enum(['trusted_nodes', 'refuse']).default('trusted_nodes'),
  })
  .strict();
export type GuardConfig = z.infer<typeof guardConfigSchema>;

/** The outcome of guarding one input. */
export interface GuardVerdict {
  /** `refuse` if any finding is refused, else `mask` if any is masked, else `pass`. */
  action: GuardAction;
  findings: GuardFinding[];
  /** The input with masked findings replaced (the same object when nothing was masked). */
  value: unknown;
}

/** What a masked finding becomes: a tag naming the kind, so a model still sees that something was there. */
export function maskTag(kind: PiiKind): string {
  return `[${kind}]`;
}

const SIMPLE_KEY = /^[A-Za-z_$][\w$]*$/;

/** A guard bound to one configuration. */
export class PolicyGuard {
  readonly #config: GuardConfig;
  readonly #kinds: ReadonlySet<PiiKind>;

  constructor(config: GuardConfig) {
    this.#config = guardConfigSchema.parse(config);
    this.#kinds = new Set(this.#config.kinds);
  }

  get enabled(): boolean {
    return this.#config.enabled;
  }

  /** What becomes of L2 inputs in clear text: trusted nodes only, or refused. */
  get l2ClearText(): GuardConfig['l2_clear_text'] {
    return this.#config.l2_clear_text;
  }

  /** The level a call gets when neither its token nor its model sets one. */
  get defaultLevel(): DataLevel {
    return this.#config.default_level;
  }

  /** Guards a parsed JSON value (objects, arrays, strings at any depth) or a text, at data level `level`. */
  check(input: unknown, level: DataLevel): GuardVerdict {
    const findings: GuardFinding[] = [];
    if (!this.#config.enabled) return { action: 'pass', findings, value: input };
    const policy = this.#config[level];
    const decide = (kind: PiiKind): GuardAction => policy.rules[kind] ?? policy.action;
    const value = this.#walk(input, '$', undefined, decide, findings);
    const verdict: GuardAction = findings.some((f) => f.action === 'refuse')
      ? 'refuse'
      : findings.some((f) => f.action === 'mask')
        ? 'mask'
        : 'pass';
    return { action: verdict, findings, value: verdict === 'mask' ? value : input };
  }

  /**
   * Walks `node`, the value at `key` of the container at `parent` (`key` undefined: `parent` is its
   * own path). A string's path is built only when something is found in it: most strings of an
   * input (a BYTES tensor's) hold nothing.
   */
  #walk(
    node: unknown,
    parent: string,
    key: string | number | undefined,
    decide: (k: PiiKind) => GuardAction,
    findings: GuardFinding[],
  ): unknown {
    if (typeof node === 'string') return this.#text(node, parent, key, decide, findings);
    if (Array.isArray(node)) {
      const path = pathOf(parent, key);
      let out: unknown[] | undefined;
      for (let i = 0; i < node.length; i++) {
        const item = node[i];
        if (typeof item === 'number' || typeof item === 'boolean' || item === null) continue;
        const next = this.#walk(item, path, i, decide, findings);
        if (next !== item) (out ??= node.slice())[i] = next;
      }
      return out ?? node;
    }
    if (node !== null && typeof node === 'object') {
      const path = pathOf(parent, key);
      const entries = Object.entries(node);
      let changed = false;
      for (let i = 0; i < entries.length; i++) {
        const [k, item] = entries[i]!;
        // A key is text too: what it holds is found, and a path names it only masked.
        const spans = findPii(k, this.#kinds);
        let name = k;
        let newKey = k;
        if (spans.length > 0) {
          name = maskSpans(k, spans, () => 'mask');
          for (const span of spans)
            findings.push({ rule: span.kind, path: pathOf(path, name), action: decide(span.kind) });
          newKey = maskSpans(k, spans, decide);
        }
        const next =
          typeof item === 'number' || typeof item === 'boolean' || item === null
            ? item
            : this.#walk(item, path, name, decide, findings);
        if (next !== item || newKey !== k) {
          changed = true;
          entries[i] = [newKey, next];
        }
      }
      // A copy in the same key order; own properties only, so a "__proto__" key stays a key.
      return changed ? Object.fromEntries(entries) : node;
    }
    return node;
  }

  #text(
    text: string,
    parent: string,
    key: string | number | undefined,
    decide: (k: PiiKind) => GuardAction,
    findings: GuardFinding[],
  ): string {
    const spans = findPii(text, this.#kinds);
    if (spans.length === 0) return text;
    const path = pathOf(parent, key);
    for (const span of spans) findings.push({ rule: span.kind, path, action: decide(span.kind) });
    return maskSpans(text, spans, decide);
  }
}

/** `text` with the spans whose action is mask replaced by their tags (`text` itself when none is). */
function maskSpans(text: string, spans: readonly Span[], decide: (k: PiiKind) => GuardAction): string {
  let masked = '';
  let at = 0;
  for (const span of spans) {
    if (decide(span.kind) !== 'mask') continue;
    masked += text.slice(at, span.start) + maskTag(span.kind);
    at = span.end;
  }
  return at === 0 ? text : masked + text.slice(at);
}

/** The JSON path of the value at `key` in the container at `parent`: `$.a.b`, `$.a[2]`, `$.a["caller ip"]`. */
function pathOf(parent: string, key: string | number | undefined): string {
  if (key === undefined) return parent;
  if (typeof key === 'number') return `${parent}[${key}]`;
  return SIMPLE_KEY.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}
