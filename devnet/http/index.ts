/**
 * The devnet's HTTP surface: the subset of the Stacks node RPC (`/v2/...`) and of the Stacks
 * Blockchain API (`/extended/...`) that stacks.js, @stacks/blockchain-api-client and this project
 * use, with the real response shapes. Plus `/devnet/...` helpers that no real network has.
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { deserializeCV, cvToHex, validateStacksAddress } from '@stacks/transactions';
import { hexToBytes } from '@stacks/common';
import type { DevnetNode } from '../node.js';
import { RejectedError } from '../admission.js';
import { TxShapes, blockJson } from './shapes.js';

const isPrincipal = (p: string) => {
  const [address, name, extra] = p.split('.');
  return extra === undefined && validateStacksAddress(address) && (name === undefined || /^[a-zA-Z][a-zA-Z0-9_-]{0,127}$/.test(name));
};
const hex128 = (n: bigint) => `0x${n.toString(16).padStart(32, '0')}`;

function badRequest(c: Context, message: string) {
  return c.json({ error: message }, 400);
}

function intParam(v: string | undefined, def: number, max: number): number | null {
  if (v === undefined) return def;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? Math.min(n, max) : null;
}

/** Builds the Hono app over a running node. */
export function devnetApp(node: DevnetNode): Hono {
  const app = new Hono();
  const shapes = new TxShapes((id) => node.contractInterface(id));

  // Browser wallets and the dashboard read the chain from other origins, as they do from Hiro's API.
  app.use('*', cors());
  // A Stacks transaction is at most 2 MB (the node's MAX_TRANSACTION_LEN).
  app.use('*', bodyLimit({ maxSize: 2 * 1024 * 1024, onError: (c) => c.json({ error: 'request body larger than 2 MB: no Stacks transaction is that big' }, 413) }));
  app.onError((err, c) => c.json({ error: 'internal devnet error (a bug)', message: err.message }, 500));
  app.notFound((c) => c.json({ error: `no such endpoint on the devnet: ${c.req.method} ${c.req.path}` }, 404));

  app.post('/v2/transactions', async (c) => {
    let raw: Uint8Array;
    const type = c.req.header('content-type') ?? '';
    try {
      if (type.includes('application/json')) {
        const body = (await c.req.json()) as { tx?: unknown };
        if (typeof body.tx !== 'string') return badRequest(c, 'JSON body must be {"tx": "<serialized transaction hex>"}');
        raw = hexToBytes(body.tx.replace(/^0x/, ''));
      } else {
        raw = new Uint8Array(await c.req.arrayBuffer());
      }
    } catch (err) {
      return c.json({ error: 'transaction rejected', reason: 'Deserialization', reason_data: { message: (err as Error).message }, txid: '' }, 400);
    }
    try {
      return c.json(await node.submit(raw));
    } catch (err) {
      if (err instanceof RejectedError) return c.json(err.body, 400);
      throw err;
    }
  });

  const info = () => {
    const tip = node.store.lastBlock();
    return {
      peer_version: 4207599113,
      pox_consensus: tip?.hash.slice(2, 42) ?? '0'.repeat(40),
      burn_block_height: node.tipHeight,
      stable_pox_consensus: tip?.hash.slice(2, 42) ?? '0'.repeat(40),
      stable_burn_block_height: node.tipHeight,
      server_version: 'stacks-inference-market devnet (clarinet-sdk simnet)',
      network_id: node.chainId,
      parent_network_id: 3669344250,
      stacks_tip_height: node.tipHeight,
      stacks_tip: tip?.hash.slice(2) ?? '0'.repeat(64),
      stacks_tip_consensus_hash: tip?.hash.slice(2, 42) ?? '0'.repeat(40),
      genesis_chainstate_hash: '0'.repeat(64),
      unanchored_tip: null,
      unanchored_seq: null,
      exit_at_block_height: null,
      is_fully_synced: true,
      node_public_key: null,
      node_public_key_hash: null,
    };
  };
  app.get('/v2/info', (c) => c.json(info()));

  app.get('/v2/accounts/:principal', (c) => {
    const p = c.req.param('principal');
    if (!isPrincipal(p)) return badRequest(c, `"${p}" is not a Stacks principal`);
    return c.json({ balance: hex128(node.balance(p)), locked: hex128(0n), unlock_height: 0, nonce: Number(node.nonces(p).next), balance_proof: '', nonce_proof: '' });
  });

  app.get('/v2/fees/transfer', (c) => c.json(1));
  app.post('/v2/fees/transaction', async (c) => {
    const body = (await c.req.json().catch(() => null)) as { transaction_payload?: unknown; estimated_len?: unknown } | null;
    if (!body || typeof body.transaction_payload !== 'string') return badRequest(c, 'body must be {"transaction_payload": "<hex>", "estimated_len"?: number}');
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

  app.post('/v2/contracts/call-read/:address/:name/:fn', async (c) => {
    const { address, name, fn } = c.req.param();
    const body = (await c.req.json().catch(() => null)) as { sender?: unknown; arguments?: unknown } | null;
    if (!body || typeof body.sender !== 'string' || !Array.isArray(body.arguments))
      return badRequest(c, 'body must be {"sender": "<principal>", "arguments": ["<Clarity value hex>", ...]}');
    const contract = `${address}.${name}`;
    const abi = node.contractInterface(contract);
    if (!abi) return c.json({ okay: false, cause: `Unchecked(NoSuchContract("${contract}"))` });
    const f = abi.functions.find((x) => x.name === fn);
    if (!f || f.access !== 'read_only') return c.json({ okay: false, cause: `Unchecked(NoSuchPublicFunction("${contract}", "${fn}"))` });
    try {
      const args = (body.arguments as string[]).map((a) => deserializeCV(a));
      return c.json({ okay: true, result: cvToHex(node.readOnly(contract, fn, args, body.sender)) });
    } catch (err) {
      return c.json({ okay: false, cause: (err as Error).message.split('\n')[0] });
    }
  });

  app.get('/v2/contracts/interface/:address/:name', (c) => {
    const abi = node.contractInterface(`${c.req.param('address')}.${c.req.param('name')}`);
    return abi ? c.json(abi) : c.json({ error: `no contract ${c.req.param('address')}.${c.req.param('name')}` }, 404);
  });

  app.get('/v2/contracts/source/:address/:name', (c) => {
    const source = node.contractSource(`${c.req.param('address')}.${c.req.param('name')}`);
    return source ? c.json({ source, publish_height: 0, proof: '' }) : c.json({ error: 'no such contract' }, 404);
  });

  app.get('/extended', (c) => {
    const tip = node.store.lastBlock();
    return c.json({
      server_version: 'stacks-inference-market devnet',
      status: 'ready',
      pox_v1_unlock_height: null,
      pox_v2_unlock_height: null,
      pox_v3_unlock_height: null,
      chain_tip: { block_height: node.tipHeight, block_hash: tip?.hash ?? '0x', index_block_hash: tip?.hash ?? '0x', microblock_hash: null, microblock_sequence: null, burn_block_height: node.tipHeight },
    });
  });

  app.get('/extended/v1/address/:principal/nonces', (c) => {
    const p = c.req.param('principal');
    if (!isPrincipal(p)) return badRequest(c, `"${p}" is not a Stacks principal`);
    const { next, mempool } = node.nonces(p);
    const lastMempool = mempool.length ? mempool[mempool.length - 1] : null;
    const missing: number[] = [];
    for (let n = next; lastMempool !== null && n < lastMempool; n++) if (!mempool.includes(n)) missing.push(Number(n));
    return c.json({
      last_mempool_tx_nonce: lastMempool === null ? null : Number(lastMempool),
      last_executed_tx_nonce: next === 0n ? null : Number(next - 1n),
      possible_next_nonce: Number(lastMempool !== null && lastMempool >= next ? lastMempool + 1n : next),
      detected_missing_nonces: missing,
      detected_mempool_nonces: mempool.map(Number),
    });
  });

  app.get('/extended/v1/tx/:txid', (c) => {
    const id = c.req.param('txid').replace(/^0x/, '').toLowerCase();
    const limit = intParam(c.req.query('event_limit'), 96, 200);
    const offset = intParam(c.req.query('event_offset'), 0, Number.MAX_SAFE_INTEGER);
    if (limit === null || offset === null) return badRequest(c, 'event_limit and event_offset must be non-negative integers');
    const row = /^[0-9a-f]{64}$/.test(id) ? node.store.tx(id) : undefined;
    if (!row) return c.json({ error: `could not find transaction by ID`, tx_id: `0x${id}` }, 404);
    const block = row.block_height === null ? undefined : node.store.block(row.block_height);
    return c.json(shapes.txJson(row, block, limit, offset));
  });

  app.get('/extended/v1/contract/:contractId/events', (c) => {
    const id = c.req.param('contractId');
    const limit = intParam(c.req.query('limit'), 20, 50);
    const offset = intParam(c.req.query('offset'), 0, Number.MAX_SAFE_INTEGER);
    if (limit === null || offset === null) return badRequest(c, 'limit and offset must be non-negative integers');
    const results = node.store.contractLogs(id, limit, offset).map((l) => ({
      event_index: l.event_index,
      event_type: 'smart_contract_log',
      tx_id: `0x${l.txid}`,
      contract_log: { contract_id: l.contract_id, topic: l.topic, value: { hex: l.value_hex, repr: l.value_repr } },
    }));
    return c.json({ limit, offset, results });
  });

  app.get('/extended/v2/blocks/:heightOrHash', (c) => {
    const p = c.req.param('heightOrHash');
    const b = p === 'latest' ? node.store.lastBlock() : /^\d+$/.test(p) ? node.store.block(Number(p)) : node.store.block(p.startsWith('0x') ? p : `0x${p}`);
    return b ? c.json(blockJson(b)) : c.json({ error: `cannot find block by ${p}` }, 404);
  });

  app.post('/devnet/mine', async (c) => {
    const body = (await c.req.json().catch(() => ({}))) as { blocks?: unknown };
    const n = body.blocks ?? 1;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 10_000) return badRequest(c, 'body must be {"blocks": <integer 1..10000>}');
    return c.json({ stacks_tip_height: await node.mineEmpty(n) });
  });

  return app;
}

