/**
 * Reads an escrow contract's `task-submitted` events from the Stacks API's contract event stream
 * (`/extended/v1/contract/{id}/events`), which pages newest first. The cursor is the position of
 * the last event handed out (block height, txid, event index): reading walks back from the newest
 * event to the cursor, so events appended while paging only cause overlaps (dropped by key), never
 * gaps. Should the cursor's event vanish (a reorganization), everything above its height is new.
 */
import { deserializeCV, ClarityType, type ClarityValue } from '@stacks/transactions';
import { decodeTaskSubmitted } from '../../protocol/contracts/index.js';
import type { TaskSubmittedEvent } from './types.js';

/** Position of an event in the contract's stream. */
interface Position {
  h: number;
  tx: string;
  ei: number;
}

/** A contract event as the API lists it. */
export interface ApiLog {
  event_index: number;
  event_type: string;
  tx_id: string;
  contract_log?: { contract_id: string; topic: string; value: { hex: string; repr: string } };
}

/** What the reader needs from the API: a page of the contract's events, and a transaction's block height. */
export interface EventSource {
  page(limit: number, offset: number): Promise<ApiLog[]>;
  txHeight(txid: string): Promise<number>;
}

const PAGE = 50; // the API's maximum page size for contract events

function parseCursor(cursor: string | null): Position | null {
  if (cursor === null) return null;
  try {
    const p = JSON.parse(cursor) as Position;
    if (typeof p.h === 'number' && typeof p.tx === 'string' && typeof p.ei === 'number') return p;
  } catch {
    // fall through
  }
  throw new Error(`event cursor "${cursor}" was not made by StacksApiChain.readTaskEvents; pass null to read from the start`);
}

/**
 * `event: "task-submitted"` as it appears inside a serialized tuple: the key (length byte, name)
 * then the string-ascii value (type 0x0d, u32 length, bytes).
 */
const TASK_SUBMITTED_ENTRY = Buffer.concat([Buffer.from([5]), Buffer.from('event'), Buffer.from([0x0d, 0, 0, 0, 14]), Buffer.from('task-submitted')]).toString('hex');

/** The event as a clarity value when it is a task-submitted event, else null. */
function taskSubmitted(hex: string): ClarityValue | null {
  // Most events the escrow prints are others (a task-completed per paid item): skip them without decoding.
  if (!hex.toLowerCase().includes(TASK_SUBMITTED_ENTRY)) return null;
  const cv = deserializeCV(hex);
  if (cv.type !== ClarityType.Tuple) return null;
  const ev = cv.value.event;
  return ev?.type === ClarityType.StringASCII && ev.value === 'task-submitted' ? cv : null;
}

/** Task events after `cursor`, oldest first, at most `limit`; and the cursor to pass next time. */
export async function readTaskEvents(
  src: EventSource,
  cursor: string | null,
  limit: number,
): Promise<{ events: TaskSubmittedEvent[]; cursor: string | null }> {
  const after = parseCursor(cursor);
  const newer: ApiLog[] = []; // newest first
  const seen = new Set<string>();
  let reachedCursor = false;
  scan: for (let offset = 0; ; offset += PAGE) {
    const page = await src.page(PAGE, offset);
    for (const log of page) {
      const key = `${log.tx_id}:${log.event_index}`;
      if (seen.has(key)) continue; // shifted into this page by events appended meanwhile
      seen.add(key);
      if (after && log.tx_id === after.tx && log.event_index === after.ei) {
        reachedCursor = true;
        break scan;
      }
      newer.push(log);
    }
    if (page.length < PAGE) break;
  }
  // The cursor's own event is gone (a chain reorganization): its height still bounds what is new.
  if (after && !reachedCursor) {
    let keep = 0;
    while (keep < newer.length && (await src.txHeight(newer[keep].tx_id)) >= after.h) keep++;
    newer.length = keep;
  }
  newer.reverse();
  const events: TaskSubmittedEvent[] = [];
  let last: ApiLog | null = null;
  for (const log of newer) {
    if (events.length >= limit) break;
    last = log;
    const hex = log.contract_log?.value.hex;
    const cv = log.event_type === 'smart_contract_log' && hex ? taskSubmitted(hex) : null;
    if (!cv) continue;
    const e = decodeTaskSubmitted(cv);
    events.push({
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
      // Heights are looked up only for what is handed out, not for the whole backlog scanned.
      blockHeight: await src.txHeight(log.tx_id),
      eventIndex: log.event_index,
    });
  }
  if (!last) return { events, cursor };
  const position: Position = { h: await src.txHeight(last.tx_id), tx: last.tx_id, ei: last.event_index };
  return { events, cursor: JSON.stringify(position) };
}
