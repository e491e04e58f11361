/**
 * Reads an escrow contract's `task-submitted` events forward, oldest first, from the Stacks API's
 * cursor-paged contract logs (`/extended/v2/smart-contracts/{id}/logs`). The offset-paged
 * `/extended/v1/contract/{id}/events` it replaces is deprecated upstream and counts offsets from
 * the newest event, so each poll rescanned everything above the cursor.
 *
 * The API lists events newest first; a cursor (`height:microblock:tx:event`) asks for the events
 * at or below it, and each page names `next_cursor`, the top of the page of `limit` events just
 * above it. Positions do not move when events are appended, so reading forward is: keep the last
 * event handed out and the `next_cursor` of its page, read that page next, check that it sits
 * right above ours (its `prev_cursor` is our event), repeat: each page is read once. When less
 * than a page lies above (no `next_cursor`), the newest page holds it, and our event is found in
 * it by transaction id and event index. A fresh reader finds the first block with an event by
 * bisecting heights with one-event probes.
 *
 * Should our event vanish (a reorganization), everything above the block below it is read again;
 * the watcher skips task ids it already has, so a re-read never creates a task twice.
 */
import type { TaskSubmittedEvent } from './types.js';
import { taskSubmitted, toTaskEvent, type ApiLog } from './task-events.js';

export type { ApiLog } from './task-events.js';

/** A page of `/extended/v2/smart-contracts/{id}/logs`, newest first. */
export interface LogPage {
  results: ApiLog[];
  /** Position of the page's newest event. */
  cursor: string | null;
  next_cursor: string | null;
  prev_cursor: string | null;
}

/** What the reader needs from the API. */
export interface EventSource {
  /** `limit` events at or below `cursor` (the newest when absent); null when none is (the API's 404). */
  logs(limit: number, cursor?: string): Promise<LogPage | null>;
  txHeight(txid: string): Promise<number>;
}

/** The last event handed out (position and identity) and `next_cursor` of its page when read `l` at a time. */
interface Mark {
  at: string;
  tx: string;
  ei: number;
  next: string | null;
  l: number;
}

/** The API's pages hold at most 100 events. */
const PAGE_MAX = 100;
/** Above every microblock sequence, transaction and event index: `${h}:END:END:END` ends block h. */
const END = 2147483647;
const endOfBlock = (h: number) => `${h}:${END}:${END}:${END}`;
const heightOf = (position: string) => Number(position.split(':')[0]);
/** Reorganizations survived in one call before giving up (each one moves the reader a block back). */
const MAX_REWINDS = 8;

/** The persisted cursor as a mark, or the position above which everything is new (an offset-reader cursor). */
function parseCursor(cursor: string | null): Mark | string | null {
  if (cursor === null) return null;
  const bad = new Error(
    `event cursor "${cursor}" was not made by StacksApiChain.readTaskEvents; pass null to read from the start`,
  );
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(cursor) as Record<string, unknown>;
  } catch {
    throw bad;
  }
  if (typeof c.tx !== 'string' || typeof c.ei !== 'number') throw bad;
  if (typeof c.at === 'string' && /^\d+:\d+:\d+:\d+$/.test(c.at) && typeof c.l === 'number')
    return { at: c.at, tx: c.tx, ei: c.ei, next: typeof c.next === 'string' ? c.next : null, l: c.l };
  // The offset reader's cursor ({h, tx, ei}) knew its event's block only: that block is read again.
  if (typeof c.h === 'number') return endOfBlock(c.h - 1);
  throw bad;
}

const isAt = (log: ApiLog | undefined, m: Mark) => log !== undefined && log.tx_id === m.tx && log.event_index === m.ei;

/** One call's walk up the event stream: collects events oldest first, moving its mark page by page. */
class Walk {
  readonly logs: ApiLog[] = [];
  mark: Mark | null = null;
  private rewinds = 0;

  constructor(
    private readonly src: EventSource,
    readonly size: number,
  ) {}

  /** Takes a page's events (newest first) above the mark, and moves the mark to the page's top. */
  take(page: LogPage, count = page.results.length): void {
    for (let i = count - 1; i >= 0; i--) this.logs.push(page.results[i]);
    const top = page.results[0];
    if (top && page.cursor)
      this.mark = { at: page.cursor, tx: top.tx_id, ei: top.event_index, next: page.next_cursor, l: this.size };
  }

  /**
   * Stands on the newest event at or below `position` (checking it is `expect` when given), as if
   * it had been handed out. False when no event is at or below it.
   */
  async anchor(position: string, expect?: Mark): Promise<boolean> {
    const page = await this.src.logs(this.size, position);
    if (page && (!expect || isAt(page.results[0], expect))) {
      this.take(page, 0);
      return true;
    }
    if (!expect) return false;
    return this.rewind(expect);
  }

  /** Our event is gone (a reorganization): everything above the block below it is new. */
  async rewind(lost: Mark): Promise<boolean> {
    if (++this.rewinds > MAX_REWINDS)
      throw new Error(`the escrow's event stream keeps changing under the reader (at ${lost.at})`);
    this.mark = null;
    const below = heightOf(lost.at) - 1;
    return below >= 0 && this.anchor(endOfBlock(below));
  }

  /** A fresh start: the oldest page, read once (in the rare first block of more than a page, a few pages). */
  async first(limit: number): Promise<void> {
    const newest = await this.src.logs(1);
    if (!newest?.cursor) return; // no events yet
    // The lowest height h with an event at or below the end of block h.
    let [lo, hi] = [0, heightOf(newest.cursor)];
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (await this.src.logs(1, endOfBlock(mid))) hi = mid;
      else lo = mid + 1;
    }
    const pages: LogPage[] = [];
    for (let cursor: string | null = endOfBlock(lo); cursor !== null; ) {
      const page: LogPage | null = await this.src.logs(this.size, cursor);
      if (!page) break;
      pages.push(page);
      cursor = page.prev_cursor;
    }
    // Oldest page first; more pages only while the limit allows (the rest are read again later).
    for (let i = pages.length - 1; i >= 0 && (i === pages.length - 1 || this.logs.length + this.size <= limit); i--)
      this.take(pages[i]);
  }

  /** Reads forward from the mark to the newest event, or until a page more might pass `limit` (then true). */
  async forward(limit: number): Promise<boolean> {
    for (let idle = 0; ; idle++) {
      // Each turn takes a page or re-anchors; re-anchoring again and again means the API contradicts itself.
      if (idle > 2 * MAX_REWINDS)
        throw new Error(`the event pages of the escrow do not line up above ${this.mark?.at}`);
      const m = this.mark!;
      const before = this.logs.length;
      if (m.l === this.size && this.logs.length + this.size > limit) return true;
      if (m.l === this.size && m.next) {
        const page = await this.src.logs(this.size, m.next);
        if (page && page.prev_cursor === m.at) this.take(page);
        else if (!(await this.anchor(m.at, m))) return this.restart(limit);
      } else if (m.l !== this.size) {
        // Its next_cursor counted another page size.
        if (!(await this.anchor(m.at, m))) return this.restart(limit);
      } else {
        // Less than a page above, when last looked: the newest event first, then the newest page.
        const probe = await this.src.logs(1);
        if (isAt(probe?.results[0], m)) return false;
        const newest = await this.src.logs(this.size);
        const j = newest ? newest.results.findIndex((l) => isAt(l, m)) : -1;
        if (newest && j >= 0) {
          this.take(newest, j);
          return false;
        }
        // Not among the newest page: a full page was appended since, or our event is gone.
        const ok = newest && newest.results.length === this.size ? await this.anchor(m.at, m) : await this.rewind(m);
        if (!ok) return this.restart(limit);
      }
      if (this.logs.length > before) idle = -1;
    }
  }

  /** Nothing is left below a vanished event: read from the start. */
  private async restart(limit: number): Promise<boolean> {
    await this.first(limit);
    return this.mark ? this.forward(limit) : false;
  }
}

/**
 * Task events after `cursor` (opaque; null = from the start), oldest first, at most `limit`; the
 * cursor to pass next time; and whether more may follow right away (`more`: the limit stopped it).
 */
export async function readTaskEvents(
  src: EventSource,
  cursor: string | null,
  limit: number,
): Promise<{ events: TaskSubmittedEvent[]; cursor: string | null; more: boolean }> {
  const walk = new Walk(src, Math.max(1, Math.min(PAGE_MAX, limit)));
  const from = parseCursor(cursor);
  let more = false;
  if (from === null || (typeof from === 'string' && !(await walk.anchor(from)))) await walk.first(limit);
  else if (typeof from !== 'string') walk.mark = from;
  if (walk.mark) more = await walk.forward(limit);
  const events: TaskSubmittedEvent[] = [];
  for (const log of walk.logs) {
    const cv = taskSubmitted(log);
    // Pages do not carry heights: looked up for the tasks handed out only (cached per transaction).
    if (cv) events.push(toTaskEvent(log, cv, await src.txHeight(log.tx_id)));
  }
  return { events, cursor: walk.mark ? JSON.stringify(walk.mark) : cursor, more };
}
