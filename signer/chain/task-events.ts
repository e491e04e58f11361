/** Turns the escrow's print events into `TaskSubmittedEvent`s, skipping its other events cheaply. */
import { deserializeCV, ClarityType, type ClarityValue } from '@stacks/transactions';
import { decodeTaskSubmitted } from '../../protocol/index.js';
import type { TaskSubmittedEvent } from './types.js';

/** A contract event as the Stacks API lists it. */
export interface ApiLog {
  event_index: number;
  event_type: string;
  tx_id: string;
  contract_log?: { contract_id: string; topic: string; value: { hex: string; repr: string } };
}

/**
 * `event: "task-submitted"` as it appears inside a serialized tuple: the key (length byte, name)
 * then the string-ascii value (type 0x0d, u32 length, bytes).
 */
const TASK_SUBMITTED_ENTRY = Buffer.concat([
  Buffer.from([5]),
  Buffer.from('event'),
  Buffer.from([0x0d, 0, 0, 0, 14]),
  Buffer.from('task-submitted'),
]).toString('hex');

/** The event as a clarity value when it is a task-submitted event, else null. */
export function taskSubmitted(log: ApiLog): ClarityValue | null {
  const hex = log.event_type === 'smart_contract_log' ? log.contract_log?.value.hex : undefined;
  // Most events the escrow prints are others (a task-completed per paid item): skip them without decoding.
  if (!hex?.toLowerCase().includes(TASK_SUBMITTED_ENTRY)) return null;
  const cv = deserializeCV(hex);
  if (cv.type !== ClarityType.Tuple) return null;
  const ev = cv.value.event;
  return ev?.type === ClarityType.StringASCII && ev.value === 'task-submitted' ? cv : null;
}

/** The watcher's view of a task-submitted event printed by transaction `log.tx_id` at `blockHeight`. */
export function toTaskEvent(log: ApiLog, cv: ClarityValue, blockHeight: number): TaskSubmittedEvent {
  const e = decodeTaskSubmitted(cv);
  return {
    chainTaskId: e.taskId,
    requester: e.requester,
    modelOutput: e.modelOutput,
    model: e.model,
    artifactHash: e.artifactHash,
    inputHash: e.inputHash,
    fee: e.fee,
    deadline: e.deadline,
    privacy: e.privacy,
    priority: e.priority,
    security: e.security,
    precision: e.precision,
    sampleBps: e.sampleBps,
    txid: log.tx_id.replace(/^0x/, ''),
    blockHeight,
    eventIndex: log.event_index,
  };
}
