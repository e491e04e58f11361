/** Messages between the pool (main thread) and its workers. */
import type { Feeds, ModelInfo } from '../engine/index.js';
import type { InputLimits } from '../validate/index.js';

/** Main -> worker. */
export type ToWorker =
  | { type: 'load'; jobId: number; modelId: string; file: string; intraOpThreads: number; warmupShapes: Record<string, number[]> }
  | { type: 'run'; jobId: number; modelId: string; feeds: Feeds }
  | { type: 'release'; jobId: number; modelId: string }
  | { type: 'validate'; jobId: number; bytes: Uint8Array; sha256: string; info: ModelInfo; limits: InputLimits }
  | { type: 'encode'; jobId: number; outputs: Feeds; names: string[]; precision: number };

/** What a load reports. */
export interface LoadResult {
  info: ModelInfo;
  warmupMs: number;
  /** Set when the warm-up run failed (the model still loaded; real inputs may still run). */
  warmupError?: string;
}

/** Worker -> main: a job's outcome (the worker also sends `{type: 'ready'}` once at start). */
export type FromWorker = { jobId: number; ok: true; result: unknown } | { jobId: number; ok: false; error: string };
