/** GET /metrics: Prometheus text format. */
import { Hono } from 'hono';
import type { Env } from '../env.js';
import { corePaths } from '../openapi-core.js';
import { doc } from '../openapi-doc.js';

/** Metrics route. */
export const metrics = new Hono<Env>().get('/metrics', doc('stats', corePaths['/metrics'].get), async (c) => {
  const s = c.var.services;
  const rows = s.store.sqlite.prepare('select status, count(*) n from inference_tasks group by status').all() as {
    status: string;
    n: number;
  }[];
  s.metrics.tasksByStatus.reset();
  for (const r of rows) s.metrics.tasksByStatus.set({ status: r.status }, r.n);
  return c.text(await s.metrics.registry.metrics(), 200, { 'content-type': s.metrics.registry.contentType });
});
