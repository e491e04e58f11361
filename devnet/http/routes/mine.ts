/** `POST /devnet/mine`: empty blocks on demand, so deadlines pass in tests (no real network has it). */
import { Hono } from 'hono';
import type { DevnetNode } from '../../node.js';
import { badRequest } from '../params.js';

/** The devnet-only mining route over `node`. */
export function mineRoutes(node: DevnetNode): Hono {
  return new Hono().post('/devnet/mine', async (c) => {
    const body = (await c.req.json().catch(() => ({}))) as { blocks?: unknown };
    const n = body.blocks ?? 1;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 10_000)
      return badRequest(c, 'body must be {"blocks": <integer 1..10000>}');
    return c.json({ stacks_tip_height: await node.mineEmpty(n) });
  });
}
