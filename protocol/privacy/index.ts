/**
 * Data levels and the policy guard's vocabulary (seed 004), shared by the signer that enforces
 * them, the console that sets them and the clients that read a refusal.
 */

/**
 * Data levels, from the seed's "敏感数据分级": L0 public (may go to any node), L1 internal (goes out
 * only once personal data is masked), L2 sensitive (clear text goes only to trusted nodes, or the
 * input must be encrypted to its node).
 */
export const DATA_LEVELS = ['L0', 'L1', 'L2'] as const;
export type DataLevel = (typeof DATA_LEVELS)[number];

/** The stricter of two levels: a token's and a model's level both apply to a call. */
export function stricterLevel(a: DataLevel, b: DataLevel): DataLevel {
  return DATA_LEVELS.indexOf(a) >= DATA_LEVELS.indexOf(b) ? a : b;
}

/** Kinds of personal data the guard finds. */
export const PII_KINDS = ['email', 'phone', 'cn_id', 'bank_card', 'ip'] as const;
export type PiiKind = (typeof PII_KINDS)[number];

/** What the guard does with a finding: let it through, replace it with a tag, or refuse the input. */
export const GUARD_ACTIONS = ['pass', 'mask', 'refuse'] as const;
export type GuardAction = (typeof GUARD_ACTIONS)[number];

/** One finding: the rule, where (a JSON path such as `$.inputs[0].data[2]`), and what was done; never the value. */
export interface GuardFinding {
  rule: PiiKind;
  path: string;
  action: GuardAction;
}

export * from './sealed.js';
