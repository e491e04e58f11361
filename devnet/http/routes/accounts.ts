/** Accounts: balance and nonce (`/v2/accounts/{p}`), the API's nonce view, and fee estimates. */
import { Hono } from 'hono';
import type { DevnetNode } from '../../node.js';
import { badRequest, isPrincipal } from '../params.js';

const hex128 = (n: bigint) => `0x${n.toString(16).padStart(32, '0')}`;

/** The account and fee routes over `node`. */
export function accountRoutes(node: DevnetNode): Hono {
  return new Hono()
    .get('/v2/accounts/:principal', (c) => {
      const p = c.req.param('principal');
      if (!isPrincipal(p)) return badRequest(c, `"${p}" is not a Stacks principal`);
      return c.json({
        balance: hex128(node.balance(p)),
        locked: hex128(0n),
        unlock_height: 0,
        nonce: Number(node.nonces(p).next),
        balance_proof: '',
        nonce_proof: '',
      });
    })
    .get('/extended/v1/address/:principal/nonces', (c) => {
      const p = c.req.param('principal');
      if (!isPrincipal(p)) return badRequest(c, `"${p}" is not a Stacks principal`);
      const { next, mempool } = node.nonces(p);
      const lastMempool = mempool.length ? mempool[mempool.length - 1] : null;
      const missing: number[] = [];
      for (let n = next; lastMempool !== null && n < lastMempool; n++)
        if (!mempool.includes(n)) missing.push(Number(n));
      return c.json({
        last_mempool_tx_nonce: lastMempool === null ? null : Number(lastMempool),
        last_executed_tx_nonce: next === 0n ? null : Number(next - 1n),
        possible_next_nonce: Number(lastMempool !== null && lastMempool >= next ? lastMempool + 1n : next),
        detected_missing_nonces: missing,
        detected_mempool_nonces: mempool.map(Number),
      });
    })
    .get('/v2/fees/transfer', (c) => c.json(1))
    .post('/v2/fees/transaction', async (c) => {
      const body = (await c.req.json().catch(() => null)) as {
        transaction_payload?: unknown;
        estimated_len?: unknown;
      } | null;
      if (!body || typeof body.transaction_payload !== 'string')
        return badRequest(c, 'body must be {"transaction_payload": "<hex>", "estimated_len"?: number}');
      // Devnet blocks are never full: fees are the relay minimum (1 micro-STX a byte) times 1, 2 and 3.
      const len = Math.max(Number(body.estimated_len ?? 0), body.transaction_payload.length / 2 + 150);
      const cost = { read_count: 0, read_length: 0, runtime: 0, write_count: 0, write_length: 0 };
      return c.json({
        estimated_cost: cost,
        estimated_cost_scalar: 1,
        cost_scalar_change_by_byte: 0.00476837158203125,
        estimations: [1, 2, 3].map((rate) => ({ fee_rate: rate, fee: Math.ceil(len) * rate })),
      });
    });
}
