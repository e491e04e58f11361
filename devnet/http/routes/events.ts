/**
 * A contract's print events, as the Stacks API serves them: the offset pages of
 * `/extended/v1/contract/{id}/events` (deprecated upstream, still read by the CLI and scripts) and
 * the cursor pages of `/extended/v2/smart-contracts/{id}/logs`, which the signer's watcher reads.
 */
import { Hono } from 'hono';
import type { DevnetNode } from '../../node.js';
import type { LogPosition, LogRow } from '../../store.js';
import { badRequest, intParam } from '../params.js';

/**
 * The microblock sequence the API gives a transaction of an anchored block (no microblock: i32
 * max). Devnet blocks are all anchored, so every cursor carries it.
 */
const ANCHORED = 2147483647;
/** The API's limits for event pages: at most 100 per page, offsets up to 10 pages. */
const MAX_LIMIT = 100;
const MAX_OFFSET = 10 * MAX_LIMIT;

/** `block_height:microblock_sequence:tx_index:event_index`, the API's event cursor. */
const cursorOf = (l: LogRow | undefined) => (l ? `${l.block_height}:${ANCHORED}:${l.tx_index}:${l.event_index}` : null);

/** The highest position at or below a cursor; null when the cursor is malformed. */
function positionOf(cursor: string): LogPosition | null {
  const m = /^(\d+):(\d+):(\d+):(\d+)$/.exec(cursor);
  if (!m) return null;
  const [h, mb, tx, ev] = m.slice(1).map(Number);
  // Below the anchored sequence lies only what came before the block: everything of lower height.
  return mb < ANCHORED ? [h - 1, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER] : [h, tx, ev];
}

/** A log as the API lists it. */
const apiLog = (l: LogRow) => ({
  event_index: l.event_index,
  event_type: 'smart_contract_log' as const,
  tx_id: `0x${l.txid}`,
  contract_log: { contract_id: l.contract_id, topic: l.topic, value: { hex: l.value_hex, repr: l.value_repr } },
});

/** The contract event routes over `node`. */
export function eventRoutes(node: DevnetNode): Hono {
  return new Hono()
    .get('/extended/v1/contract/:contractId/events', (c) => {
      const limit = intParam(c.req.query('limit'), 20, 50);
      const offset = intParam(c.req.query('offset'), 0, Number.MAX_SAFE_INTEGER);
      if (limit === null || offset === null) return badRequest(c, 'limit and offset must be non-negative integers');
      return c.json({
        limit,
        offset,
        results: node.store.contractLogs(c.req.param('contractId'), limit, offset).map(apiLog),
      });
    })
    .get('/extended/v2/smart-contracts/:contractId/logs', (c) => {
      const limit = Number(c.req.query('limit') ?? 20);
      const offset = Number(c.req.query('offset') ?? 0);
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
        return badRequest(c, `limit must be an integer from 1 to ${MAX_LIMIT}`);
      if (!Number.isInteger(offset) || offset < 0 || offset > MAX_OFFSET)
        return badRequest(c, `offset must be an integer from 0 to ${MAX_OFFSET}`);
      const cursor = c.req.query('cursor');
      const at = cursor === undefined ? ([Number.MAX_SAFE_INTEGER, 0, 0] as const) : positionOf(cursor);
      if (!at)
        return badRequest(
          c,
          'cursor must be block_height:microblock_sequence:tx_index:event_index, as next_cursor and prev_cursor give it',
        );
      const page = node.store.logPage(c.req.param('contractId'), at, limit, offset);
      if (cursor !== undefined && page.results.length === 0) return c.json({ error: 'Cursor not found' }, 404);
      return c.json({
        limit,
        offset,
        total: page.total,
        next_cursor: cursorOf(page.next),
        prev_cursor: cursorOf(page.prev),
        cursor: cursorOf(page.results[0]),
        results: page.results.map(apiLog),
      });
    });
}
