/** Transactions in and out: broadcast (`POST /v2/transactions`) and status (`GET /extended/v1/tx/{id}`). */
import { Hono } from 'hono';
import { hexToBytes } from '@stacks/common';
import type { DevnetNode } from '../../node.js';
import { RejectedError } from '../../admission.js';
import { TxShapes } from '../shapes.js';
import { badRequest, intParam } from '../params.js';

/** Reads the serialized transaction of a broadcast: raw octets, or the `{"tx": hex}` JSON that stacks.js sends. */
async function rawTransaction(req: Request, type: string): Promise<Uint8Array | string> {
  if (!type.includes('application/json')) return new Uint8Array(await req.arrayBuffer());
  const body = (await req.json()) as { tx?: unknown };
  if (typeof body.tx !== 'string') return 'JSON body must be {"tx": "<serialized transaction hex>"}';
  return hexToBytes(body.tx.replace(/^0x/, ''));
}

/** The broadcast and transaction-status routes over `node`. */
export function transactionRoutes(node: DevnetNode): Hono {
  const shapes = new TxShapes((id) => node.contractInterface(id));
  return new Hono()
    .post('/v2/transactions', async (c) => {
      let raw: Uint8Array | string;
      try {
        raw = await rawTransaction(c.req.raw, c.req.header('content-type') ?? '');
      } catch (err) {
        return c.json(
          {
            error: 'transaction rejected',
            reason: 'Deserialization',
            reason_data: { message: (err as Error).message },
            txid: '',
          },
          400,
        );
      }
      if (typeof raw === 'string') return badRequest(c, raw);
      try {
        return c.json(await node.submit(raw));
      } catch (err) {
        if (err instanceof RejectedError) return c.json(err.body, 400);
        throw err;
      }
    })
    .get('/extended/v1/tx/:txid', (c) => {
      const id = c.req.param('txid').replace(/^0x/, '').toLowerCase();
      const limit = intParam(c.req.query('event_limit'), 96, 200);
      const offset = intParam(c.req.query('event_offset'), 0, Number.MAX_SAFE_INTEGER);
      if (limit === null || offset === null)
        return badRequest(c, 'event_limit and event_offset must be non-negative integers');
      const row = /^[0-9a-f]{64}$/.test(id) ? node.store.tx(id) : undefined;
      if (!row) return c.json({ error: `could not find transaction by ID`, tx_id: `0x${id}` }, 404);
      const block = row.block_height === null ? undefined : node.store.block(row.block_height);
      return c.json(shapes.txJson(row, block, limit, offset));
    });
}
