/** GET /health: the seed's liveness answer. */
import { Hono } from 'hono';
import type { Env } from '../env.js';
import { corePaths } from '../openapi-core.js';
import { doc } from '../openapi-doc.js';
import { ok } from '../respond.js';

/** Health route. */
export const health = new Hono<Env>().get('/health', doc('health', corePaths['/health'].get), (c) => {
  c.var.services.store.sqlite.prepare('select 1').get();
  return ok(c, {
    status: 'healthy',
    timestamp: Math.floor(Date.now() / 1000),
    uptime_ms: Date.now() - c.var.services.startedAt,
  });
});
