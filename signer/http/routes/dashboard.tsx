/**
 * The console dashboard: the page `/console` (server-rendered with the current figures), the
 * JSON `GET /api/v1/admin/dashboard` its script polls, and the console's scripts, stylesheet, icon and the
 * uPlot charting library, served from this package and node_modules (no CDN: the signer may
 * run without internet access). The console's session guard covers the page and the JSON.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import { sharedSnapshot } from '../../dashboard/index.js';
import { flashOf } from '../../console/index.js';
import { DashboardPage } from '../../console/index.js';
import type { Env } from '../env.js';
import { corePaths } from '../openapi-core.js';
import { doc, page } from '../openapi-doc.js';
import { ok } from '../respond.js';

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

function asset(path: string, type: string): Asset {
  const body = readFileSync(path);
  return { body, type, etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"` };
}

const uplotDir = join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');
const ownDir = fileURLToPath(new URL('../../console/assets/', import.meta.url));
// Read once at start: a missing file fails the signer's start, not a page view.
const ASSETS: Record<string, Asset> = {
  'uplot.min.js': asset(join(uplotDir, 'uPlot.iife.min.js'), 'text/javascript; charset=utf-8'),
  'uplot.min.css': asset(join(uplotDir, 'uPlot.min.css'), 'text/css; charset=utf-8'),
  'dashboard.js': asset(join(ownDir, 'dashboard.js'), 'text/javascript; charset=utf-8'),
  'dashboard.css': asset(join(ownDir, 'dashboard.css'), 'text/css; charset=utf-8'),
  'console.js': asset(join(ownDir, 'console.js'), 'text/javascript; charset=utf-8'),
  'favicon.ico': asset(join(ownDir, 'favicon.ico'), 'image/x-icon'),
};

const app = new Hono<Env>()
  .get('/api/v1/admin/dashboard', doc('admin', corePaths['/api/v1/admin/dashboard'].get), async (c) =>
    ok(c, await sharedSnapshot(c.var.services)),
  )
  .get('/console', doc('console', page('The dashboard')), async (c) =>
    c.html(<DashboardPage admin={c.var.admin} flash={flashOf(c)} snapshot={await sharedSnapshot(c.var.services)} />),
  );

for (const [file, a] of Object.entries(ASSETS)) {
  // Browsers ask for /favicon.ico whatever the page says: served there too, outside the console guard.
  if (file === 'favicon.ico') {
    const icon = doc('console', { summary: 'The site icon', responses: { 200: { description: a.type } } });
    app.get('/favicon.ico', icon, (c) =>
      c.body(new Uint8Array(a.body), 200, { 'content-type': a.type, 'cache-control': 'public, max-age=86400' }),
    );
  }
  app.get(
    `/console/assets/${file}`,
    doc('console', { summary: `Dashboard asset ${file}`, responses: { 200: { description: a.type } } }),
    (c) => {
      // Revalidated by ETag after an hour: a redeployed signer's script reaches browsers that day.
      const headers = { 'content-type': a.type, 'cache-control': 'public, max-age=3600', etag: a.etag };
      if (c.req.header('if-none-match') === a.etag) return c.body(null, 304, headers);
      return c.body(new Uint8Array(a.body), 200, headers);
    },
  );
}

/** Dashboard page, its JSON and its static assets. */
export const dashboard = app;
