/**
 * ClarityValue -> plain objects for the contracts' events and read-only results: integers
 * become bigint, buffers hex without 0x, principals strings. Each decoder throws, naming the
 * field, when the value does not have the shape the contract produces.
 */
import { ClarityType, type ClarityValue, type TupleCV } from '@stacks/transactions';

function tuple(cv: ClarityValue, what: string): TupleCV['value'] {
  if (cv.type !== ClarityType.Tuple) throw new Error(`${what}: expected a tuple, got ${cv.type}`);
  return cv.value;
}

function get(t: TupleCV['value'], key: string): ClarityValue {
  const v = t[key];
  if (!v) throw new Error(`missing field "${key}"`);
  return v;
}

function big(t: TupleCV['value'], key: string): bigint {
  const v = get(t, key);
  if (v.type !== ClarityType.UInt) throw new Error(`field "${key}": expected uint, got ${v.type}`);
  return BigInt(v.value);
}

function str(t: TupleCV['value'], key: string): string {
  const v = get(t, key);
  switch (v.type) {
    case ClarityType.Buffer:
    case ClarityType.StringASCII:
    case ClarityType.StringUTF8:
    case ClarityType.PrincipalStandard:
    case ClarityType.PrincipalContract:
      return v.value;
    default:
      throw new Error(`field "${key}": expected a buffer, string or principal, got ${v.type}`);
  }
}

function opt<T>(t: TupleCV['value'], key: string, read: (inner: TupleCV['value'], k: string) => T): T | null {
  const v = get(t, key);
  if (v.type === ClarityType.OptionalNone) return null;
  if (v.type !== ClarityType.OptionalSome) throw new Error(`field "${key}": expected an optional, got ${v.type}`);
  return read({ [key]: v.value }, key);
}

function unwrapSome(cv: ClarityValue): ClarityValue | null {
  if (cv.type === ClarityType.OptionalNone) return null;
  return cv.type === ClarityType.OptionalSome ? cv.value : cv;
}

/** What submit-task fixes in a task for good: its security level, precision and fee terms. */
export interface FrozenTerms {
  /** Nodes that must agree: 1, 3 or 5. */
  security: number;
  /** Significant digits float outputs are rounded to before hashing (the model output's, 0 = exact). */
  precision: number;
  ownerBps: number;
  treasuryBps: number;
  treasury: string;
  sampleBps: number;
}

function frozenTerms(t: Record<string, ClarityValue>): FrozenTerms {
  return {
    security: Number(big(t, 'security')),
    precision: Number(big(t, 'precision')),
    ownerBps: Number(big(t, 'owner-bps')),
    treasuryBps: Number(big(t, 'treasury-bps')),
    treasury: str(t, 'treasury'),
    sampleBps: Number(big(t, 'sample-bps')),
  };
}

/** The `task-submitted` event of `submit-task`. */
export interface TaskSubmitted extends FrozenTerms {
  taskId: bigint;
  requester: string;
  modelOutput: bigint;
  model: string;
  artifactHash: string;
  owner: string;
  inputHash: string;
  fee: bigint;
  deadline: bigint;
  privacy: number;
  priority: number;
}

/** Decodes a `task-submitted` print event. */
export function decodeTaskSubmitted(cv: ClarityValue): TaskSubmitted {
  const t = tuple(cv, 'task-submitted event');
  if (str(t, 'event') !== 'task-submitted') throw new Error(`not a task-submitted event: "${str(t, 'event')}"`);
  return {
    taskId: big(t, 'task-id'),
    requester: str(t, 'requester'),
    modelOutput: big(t, 'model-output'),
    model: str(t, 'model'),
    artifactHash: str(t, 'artifact-hash'),
    owner: str(t, 'owner'),
    inputHash: str(t, 'input-hash'),
    fee: big(t, 'fee'),
    deadline: big(t, 'deadline'),
    privacy: Number(big(t, 'privacy')),
    priority: Number(big(t, 'priority')),
    ...frozenTerms(t),
  };
}

/** The `task-completed` event printed for each paid item of `complete-tasks`. */
export interface TaskCompleted {
  taskId: bigint;
  node: string;
  nodePublicKey: string;
  outputHash: string;
  fee: bigint;
  nodePayout: bigint;
  owner: string;
  ownerPayout: bigint;
  treasury: string;
  treasuryPayout: bigint;
}

/** Decodes a `task-completed` print event. */
export function decodeTaskCompleted(cv: ClarityValue): TaskCompleted {
  const t = tuple(cv, 'task-completed event');
  if (str(t, 'event') !== 'task-completed') throw new Error(`not a task-completed event: "${str(t, 'event')}"`);
  return {
    taskId: big(t, 'task-id'),
    node: str(t, 'node'),
    nodePublicKey: str(t, 'node-pubkey'),
    outputHash: str(t, 'output-hash'),
    fee: big(t, 'fee'),
    nodePayout: big(t, 'node-payout'),
    owner: str(t, 'owner'),
    ownerPayout: big(t, 'owner-payout'),
    treasury: str(t, 'treasury'),
    treasuryPayout: big(t, 'treasury-payout'),
  };
}

/** Per-item outcome of `complete-tasks`: the node payout, or the contract's error code. */
export type CompleteResult = { ok: true; payout: bigint } | { ok: false; code: number };

/** Decodes the result of `complete-tasks`: `(ok (list ...))` or the bare list. */
export function decodeCompleteResults(cv: ClarityValue): CompleteResult[] {
  const list = cv.type === ClarityType.ResponseOk ? cv.value : cv;
  if (list.type !== ClarityType.List)
    throw new Error(`complete-tasks result: expected (ok (list ...)), got ${cv.type}`);
  return list.value.map((r, i) => {
    if (
      (r.type === ClarityType.ResponseOk || r.type === ClarityType.ResponseErr) &&
      r.value.type === ClarityType.UInt
    ) {
      const n = BigInt(r.value.value);
      return r.type === ClarityType.ResponseOk ? { ok: true, payout: n } : { ok: false, code: Number(n) };
    }
    throw new Error(`complete-tasks result item ${i}: expected (ok uint) or (err uint), got ${r.type}`);
  });
}

/** Task status codes stored on chain. */
export const TASK_STATUS = { pending: 0, paid: 1, refunded: 2 } as const;
export type ChainTaskStatus = keyof typeof TASK_STATUS;

/** A task as `get-task` returns it. */
export interface ChainTask extends FrozenTerms {
  requester: string;
  modelOutput: bigint;
  model: string;
  artifactHash: string;
  owner: string;
  inputHash: string;
  fee: bigint;
  deadline: bigint;
  privacy: number;
  priority: number;
  status: ChainTaskStatus;
  /** Paid node's principal, once paid. */
  node: string | null;
  outputHash: string | null;
}

/** Decodes `get-task`'s result; null for none. */
export function decodeTask(cv: ClarityValue): ChainTask | null {
  const inner = unwrapSome(cv);
  if (!inner) return null;
  const t = tuple(inner, 'task');
  const code = Number(big(t, 'status'));
  const status = (Object.keys(TASK_STATUS) as ChainTaskStatus[]).find((k) => TASK_STATUS[k] === code);
  if (!status) throw new Error(`task: unknown status code ${code}`);
  return {
    requester: str(t, 'requester'),
    modelOutput: big(t, 'model-output'),
    model: str(t, 'model'),
    artifactHash: str(t, 'artifact-hash'),
    owner: str(t, 'owner'),
    inputHash: str(t, 'input-hash'),
    fee: big(t, 'fee'),
    deadline: big(t, 'deadline'),
    privacy: Number(big(t, 'privacy')),
    priority: Number(big(t, 'priority')),
    ...frozenTerms(t),
    status,
    node: opt(t, 'node', str),
    outputHash: opt(t, 'output-hash', str),
  };
}

/** A model-registry output as `get-output` / `get-head` return it (get-head adds outputId). */
export interface ModelOutput {
  outputId: bigint | null;
  model: string;
  owner: string;
  artifactHash: string;
  format: string;
  version: bigint;
  price: bigint;
  uri: string;
  /** Significant digits float outputs are rounded to before hashing (0 = exact). */
  precision: number;
  parent: bigint | null;
  spent: boolean;
}

/** Decodes `get-output` or `get-head`; null for none. */
export function decodeModelOutput(cv: ClarityValue): ModelOutput | null {
  const inner = unwrapSome(cv);
  if (!inner) return null;
  const t = tuple(inner, 'model output');
  const spent = get(t, 'spent');
  return {
    outputId: t['output-id'] ? big(t, 'output-id') : null,
    model: str(t, 'model'),
    owner: str(t, 'owner'),
    artifactHash: str(t, 'artifact-hash'),
    format: str(t, 'format'),
    version: big(t, 'version'),
    price: big(t, 'price'),
    uri: str(t, 'uri'),
    precision: Number(big(t, 'precision')),
    parent: opt(t, 'parent', big),
    spent: spent.type === ClarityType.BoolTrue,
  };
}

/** Per-task outcome of `settle-redundant`: how many results agreed and the stake slashed, or the error code. */
export type RedundantResult = { ok: true; votes: number; slashed: bigint } | { ok: false; code: number };

/** Decodes the result of `settle-redundant`: `(ok (list ...))` or the bare list. */
export function decodeRedundantResults(cv: ClarityValue): RedundantResult[] {
  const list = cv.type === ClarityType.ResponseOk ? cv.value : cv;
  if (list.type !== ClarityType.List)
    throw new Error(`settle-redundant result: expected (ok (list ...)), got ${cv.type}`);
  return list.value.map((r, i) => {
    if (r.type === ClarityType.ResponseErr && r.value.type === ClarityType.UInt)
      return { ok: false, code: Number(r.value.value) };
    if (r.type === ClarityType.ResponseOk) {
      const t = tuple(r.value, `settle-redundant result item ${i}`);
      return { ok: true, votes: Number(big(t, 'votes')), slashed: big(t, 'slashed') };
    }
    throw new Error(`settle-redundant result item ${i}: expected (ok tuple) or (err uint), got ${r.type}`);
  });
}

/** Node bond statuses stored on chain. */
export const NODE_BOND_STATUS = { active: 0, unbonding: 1, slashed: 2 } as const;
export type NodeBondStatus = keyof typeof NODE_BOND_STATUS;

/** A node key's bond as `get-node` returns it. */
export interface NodeBond {
  operator: string;
  stake: bigint;
  status: NodeBondStatus;
  withdrawAt: bigint;
}

/** Decodes `get-node`'s result; null for a key with no bond. */
export function decodeNodeBond(cv: ClarityValue): NodeBond | null {
  const inner = unwrapSome(cv);
  if (!inner) return null;
  const t = tuple(inner, 'node bond');
  const code = Number(big(t, 'status'));
  const status = (Object.keys(NODE_BOND_STATUS) as NodeBondStatus[]).find((k) => NODE_BOND_STATUS[k] === code);
  if (!status) throw new Error(`node bond: unknown status code ${code}`);
  return { operator: str(t, 'operator'), stake: big(t, 'stake'), status, withdrawAt: big(t, 'withdraw-at') };
}
