/** Deployed contracts: read-only calls, interfaces (ABI) and sources, as the node's `/v2/contracts/...`. */
import { Hono } from 'hono';
import { deserializeCV, cvToHex } from '@stacks/transactions';
import type { DevnetNode } from '../../node.js';
import { badRequest } from '../params.js';

/** The contract routes over `node`. */
export function contractRoutes(node: DevnetNode): Hono {
  return new Hono()
    .post('/v2/contracts/call-read/:address/:name/:fn', async (c) => {
      const { address, name, fn } = c.req.param();
      const body = (await c.req.json().catch(() => null)) as { sender?: unknown; arguments?: unknown } | null;
      if (!body || typeof body.sender !== 'string' || !Array.isArray(body.arguments))
        return badRequest(c, 'body must be {"sender": "<principal>", "arguments": ["<Clarity value hex>", ...]}');
      const contract = `${address}.${name}`;
      const abi = node.contractInterface(contract);
      // The node answers these with 200 and okay: false, which stacks.js turns into its own error.
      if (!abi) return c.json({ okay: false, cause: `Unchecked(NoSuchContract("${contract}"))` });
      const f = abi.functions.find((x) => x.name === fn);
      if (f?.access !== 'read_only')
        return c.json({ okay: false, cause: `Unchecked(NoSuchPublicFunction("${contract}", "${fn}"))` });
      try {
        const args = (body.arguments as string[]).map((a) => deserializeCV(a));
        return c.json({ okay: true, result: cvToHex(node.readOnly(contract, fn, args, body.sender)) });
      } catch (err) {
        return c.json({ okay: false, cause: (err as Error).message.split('\n')[0] });
      }
    })
    .get('/v2/contracts/interface/:address/:name', (c) => {
      const id = `${c.req.param('address')}.${c.req.param('name')}`;
      const abi = node.contractInterface(id);
      return abi ? c.json(abi) : c.json({ error: `no contract ${id}` }, 404);
    })
    .get('/v2/contracts/source/:address/:name', (c) => {
      const source = node.contractSource(`${c.req.param('address')}.${c.req.param('name')}`);
      return source ? c.json({ source, publish_height: 0, proof: '' }) : c.json({ error: 'no such contract' }, 404);
    });
}
