/**
 * The devnet's HTTP surface: the subset of the Stacks node RPC (`/v2/...`) and of the Stacks
 * Blockchain API (`/extended/...`) that stacks.js, @stacks/blockchain-api-client and this project
 * use, with the real response shapes. Plus `/devnet/...` helpers that no real network has.
 * One module per concern under ./routes; this file only adds what every route shares.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import type { DevnetNode } from '../node.js';
import { accountRoutes } from './routes/accounts.js';
import { chainRoutes } from './routes/chain.js';
import { contractRoutes } from './routes/contracts.js';
import { eventRoutes } from './routes/events.js';
import { mineRoutes } from './routes/mine.js';
import { transactionRoutes } from './routes/transactions.js';

/** Builds the Hono app over a running node. */
export function devnetApp(node: DevnetNode): Hono {
  const app = new Hono();
  // Browser wallets and the dashboard read the chain from other origins, as they do from Hiro's API.
  app.use('*', cors());
  // A Stacks transaction is at most 2 MB (the node's MAX_TRANSACTION_LEN).
  const tooBig = { error: 'request body larger than 2 MB: no Stacks transaction is that big' };
  app.use('*', bodyLimit({ maxSize: 2 * 1024 * 1024, onError: (c) => c.json(tooBig, 413) }));
  app.onError((err, c) => c.json({ error: 'internal devnet error (a bug)', message: err.message }, 500));
  app.notFound((c) => c.json({ error: `no such endpoint on the devnet: ${c.req.method} ${c.req.path}` }, 404));
  for (const routes of [transactionRoutes, chainRoutes, accountRoutes, contractRoutes, eventRoutes, mineRoutes])
    app.route('/', routes(node));
  return app;
}
