/** A direct request's context, stored as JSON with its task: read by the queue, the outcome and metering. */
import type { TaskRow } from '../tasks/index.js';

/** What a direct task carries besides the task columns; stored as its `context` JSON so a restart rebuilds the queue. */
export interface DirectContext {
  token_id: number | null;
  request_id: string;
  version: number;
  /** ms since epoch after which the request times out. */
  expires_at: number;
  /** Part of a batch request: the batch route meters the batch as one request. */
  batch: boolean;
}

/** Reads a direct task's context. */
export function directContext(task: TaskRow): DirectContext {
  return JSON.parse(task.context ?? '{}') as DirectContext;
}
