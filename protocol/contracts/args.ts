/**
 * Typed Clarity arguments for every public function of the two contracts, built with
 * stacks.js `Cl`. Inputs are checked here so a caller gets a clear error instead of a
 * rejected transaction.
 */
import { Cl, type ClarityValue } from '@stacks/transactions';
import { hexToBytes } from '@stacks/common';

type Int = bigint | number;

function uint(value: Int, field: string): ClarityValue {
  if (typeof value === 'number' && !Number.isSafeInteger(value))
    throw new Error(`${field} must be a whole number, got ${value}`);
  if (BigInt(value) < 0n) throw new Error(`${field} must not be negative, got ${value}`);
  return Cl.uint(value);
}

/** Checks a hex string (optionally 0x-prefixed) is exactly `bytes` bytes; returns it lowercase without 0x. */
function cleanHex(hex: string, bytes: number, field: string): string {
  const clean = hex.startsWith('0x') ? hex.slice(2) : hex;
  if (clean.length !== bytes * 2 || !/^[0-9a-fA-F]*$/.test(clean)) {
    throw new Error(`${field} must be ${bytes} bytes of hex (${bytes * 2} characters), got "${hex}"`);
  }
  return clean.toLowerCase();
}

/** A hex string (optionally 0x-prefixed) of exactly `bytes` bytes, as a Clarity buffer. */
export function hexBuffer(hex: string, bytes: number, field: string): ClarityValue {
  return Cl.buffer(hexToBytes(cleanHex(hex, bytes, field)));
}

/** Arguments of `inference-escrow.submit-task`. */
export interface SubmitTask {
  modelOutput: Int;
  /** sha256 of the input, hex. */
  inputHash: string;
  /** micro-STX, at least the model output's price. */
  fee: Int;
  /** Blocks until the deadline (min-blocks..max-blocks of get-config). */
  maxBlocks: Int;
  /** 0 standard, 1 encrypted, 2 federated (protocol/status `privacyCode`). */
  privacy: Int;
  /** 0..255. */
  priority: Int;
  /** How many nodes must agree: 1 (spot-checked), 3 or 5. The fee covers price * security. Default 1. */
  security?: Int;
}

/** The security levels a task may ask for: how many nodes must compute it. */
export const SECURITY_LEVELS = [1, 3, 5] as const;

/** Arguments of `submit-task`. */
export function submitTaskArgs(t: SubmitTask): ClarityValue[] {
  const security = t.security ?? 1;
  if (!SECURITY_LEVELS.includes(Number(security) as 1 | 3 | 5))
    throw new Error(`security must be 1, 3 or 5, got ${security}`);
  return [
    uint(t.modelOutput, 'modelOutput'),
    hexBuffer(t.inputHash, 32, 'inputHash'),
    uint(t.fee, 'fee'),
    uint(t.maxBlocks, 'maxBlocks'),
    uint(t.privacy, 'privacy'),
    uint(t.priority, 'priority'),
    uint(security, 'security'),
  ];
}

/** One signed result for `complete-tasks`. */
export interface CompleteTaskItem {
  taskId: Int;
  outputHash: string;
  /** Compressed secp256k1 public key, hex (33 bytes). */
  nodePublicKey: string;
  /** RSV signature from protocol/sip018 `signTaskResult`, hex (65 bytes). */
  signature: string;
}

/** Most items one `complete-tasks` call takes. */
export const MAX_BATCH = 200;

/** The single argument of `complete-tasks`: a list of at most 200 items. */
export function completeTasksArgs(items: CompleteTaskItem[]): ClarityValue[] {
  if (items.length > MAX_BATCH) throw new Error(`complete-tasks takes at most ${MAX_BATCH} items, got ${items.length}`);
  return [
    Cl.list(
      items.map((it, i) =>
        Cl.tuple({
          'task-id': uint(it.taskId, `items[${i}].taskId`),
          'output-hash': hexBuffer(it.outputHash, 32, `items[${i}].outputHash`),
          'node-pubkey': hexBuffer(it.nodePublicKey, 33, `items[${i}].nodePublicKey (compressed key)`),
          signature: hexBuffer(it.signature, 65, `items[${i}].signature`),
        }),
      ),
    ),
  ];
}

/** One task run by several nodes, for `settle-redundant`: every node's signed result. */
export interface RedundantTask {
  taskId: Int;
  /** 2 to 5 results by distinct node keys. */
  results: Omit<CompleteTaskItem, 'taskId'>[];
}

/** Most tasks one `settle-redundant` call takes, and most results per task. */
export const MAX_REDUNDANT_BATCH = 20;
export const MAX_VOTES = 5;

/** The single argument of `settle-redundant`. */
export function settleRedundantArgs(tasks: RedundantTask[]): ClarityValue[] {
  if (tasks.length > MAX_REDUNDANT_BATCH)
    throw new Error(`settle-redundant takes at most ${MAX_REDUNDANT_BATCH} tasks, got ${tasks.length}`);
  return [
    Cl.list(
      tasks.map((t, i) => {
        if (t.results.length > MAX_VOTES)
          throw new Error(`tasks[${i}] has ${t.results.length} results; at most ${MAX_VOTES}`);
        return Cl.tuple({
          'task-id': uint(t.taskId, `tasks[${i}].taskId`),
          results: Cl.list(
            t.results.map((r, j) =>
              Cl.tuple({
                'output-hash': hexBuffer(r.outputHash, 32, `tasks[${i}].results[${j}].outputHash`),
                'node-pubkey': hexBuffer(
                  r.nodePublicKey,
                  33,
                  `tasks[${i}].results[${j}].nodePublicKey (compressed key)`,
                ),
                signature: hexBuffer(r.signature, 65, `tasks[${i}].results[${j}].signature`),
              }),
            ),
          ),
        });
      }),
    ),
  ];
}

/** Arguments of `bond-node`: the node's compressed public key and the stake in micro-STX. */
export function bondNodeArgs(nodePublicKey: string, amount: Int): ClarityValue[] {
  return [hexBuffer(nodePublicKey, 33, 'nodePublicKey (compressed key)'), uint(amount, 'amount')];
}

/** Arguments of `unbond-node`, `withdraw-stake` and `get-node`. */
export function nodeKeyArgs(nodePublicKey: string): ClarityValue[] {
  return [hexBuffer(nodePublicKey, 33, 'nodePublicKey (compressed key)')];
}

/**
 * The items ordered for the cheapest settlement: `complete-tasks` makes one transfer per run of
 * consecutive items with the same node, so grouping by node pays each node once per batch.
 * Stable, and it returns a new array: results come back in this order, so map them with it.
 */
export function orderForSettlement<T extends { nodePublicKey: string }>(items: readonly T[]): T[] {
  return items
    .map((item, i) => ({ item, i }))
    .sort((a, b) =>
      a.item.nodePublicKey < b.item.nodePublicKey ? -1 : a.item.nodePublicKey > b.item.nodePublicKey ? 1 : a.i - b.i,
    )
    .map(({ item }) => item);
}

/** Arguments of `reclaim` (and of `get-task`). */
export function reclaimArgs(taskId: Int): ClarityValue[] {
  return [uint(taskId, 'taskId')];
}

/** A model artifact as the registry stores it. */
export interface ModelArtifact {
  /** sha256 of the .onnx file, hex. */
  artifactHash: string;
  /** e.g. "onnx" (1..16 ASCII characters). */
  format: string;
  /** micro-STX per call. */
  price: Int;
  /** Where the artifact can be fetched (up to 256 characters). */
  uri: string;
  /**
   * Significant digits float outputs are rounded to before nodes hash them (0..9; 0 = exact).
   * Honest nodes on different hardware or thread counts then sign the same output hash.
   * Default DEFAULT_OUTPUT_PRECISION.
   */
  precision?: Int;
}

/** The precision a model gets when its publisher names none: float32 noise sits near the 7th digit. */
export const DEFAULT_OUTPUT_PRECISION = 5;

function artifactArgs(a: ModelArtifact): ClarityValue[] {
  if (!/^[\x20-\x7e]{1,16}$/.test(a.format))
    throw new Error(`format must be 1-16 printable ASCII characters, got "${a.format}"`);
  if ([...a.uri].length > 256) throw new Error(`uri must be at most 256 characters, got ${[...a.uri].length}`);
  const precision = Number(a.precision ?? DEFAULT_OUTPUT_PRECISION);
  if (!Number.isInteger(precision) || precision < 0 || precision > 9)
    throw new Error(`precision must be a whole number of significant digits from 0 to 9, got ${a.precision}`);
  return [
    hexBuffer(a.artifactHash, 32, 'artifactHash'),
    Cl.stringAscii(a.format),
    uint(a.price, 'price'),
    Cl.stringUtf8(a.uri),
    Cl.uint(precision),
  ];
}

/** Arguments of `model-registry.deploy`. */
export function deployModelArgs(m: ModelArtifact & { model: string }): ClarityValue[] {
  if (!/^[\x20-\x7e]{1,64}$/.test(m.model))
    throw new Error(`model name must be 1-64 printable ASCII characters, got "${m.model}"`);
  return [Cl.stringAscii(m.model), ...artifactArgs(m)];
}

/** Arguments of `upgrade`: spends `outputId` (the model's live output). */
export function upgradeModelArgs(m: ModelArtifact & { outputId: Int }): ClarityValue[] {
  return [uint(m.outputId, 'outputId'), ...artifactArgs(m)];
}

/** Arguments of `transfer`. */
export function transferModelArgs(outputId: Int, newOwner: string): ClarityValue[] {
  return [uint(outputId, 'outputId'), Cl.principal(newOwner)];
}

/** Arguments of `retire`. */
export function retireModelArgs(outputId: Int): ClarityValue[] {
  return [uint(outputId, 'outputId')];
}

/** Arguments of `rollback`: a new version of `outputId`'s model carrying `ancestorId`'s artifact. */
export function rollbackModelArgs(outputId: Int, ancestorId: Int): ClarityValue[] {
  return [uint(outputId, 'outputId'), uint(ancestorId, 'ancestorId')];
}
