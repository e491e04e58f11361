/**
 * /openapi.json and the interactive page at /docs. Swagger UI's assets are served from
 * node_modules/swagger-ui-dist, so the page works without internet access.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Hono } from 'hono';
import { swaggerUI } from '@hono/swagger-ui';
import { ApiError } from '../../errors.js';
import type { Env } from '../env.js';
import { doc } from '../openapi-doc.js';
import { openApiDocument } from '../openapi.js';

const assetsDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const ASSETS: Record<string, string> = { 'swagger-ui.css': 'text/css', 'swagger-ui-bundle.js': 'text/javascript' };

/** Documentation routes; the document is generated from `app`'s routes once, at the first request. */
export function docs(app: Hono<Env>) {
  let document: ReturnType<typeof openApiDocument> | undefined;
  return new Hono<Env>()
    .get('/openapi.json', doc('docs', { summary: 'This OpenAPI document' }), async (c) => {
      document ??= openApiDocument(app);
      return c.json(await document);
    })
    .get(
      '/docs',
      doc('docs', { summary: 'Interactive documentation (Swagger UI)' }),
      swaggerUI({ url: '/openapi.json', baseUrl: '/docs/assets', title: 'Signer API' }),
    )
    .get(
      '/docs/assets/swagger-ui-dist/:file',
      doc('docs', { summary: 'Swagger UI assets, served from node_modules' }),
      async (c) => {
        const file = c.req.param('file');
        const type = ASSETS[file];
        if (!type) throw new ApiError('not_found', `no documentation asset ${file}`);
        return c.body(await readFile(join(assetsDir, file)), 200, {
          'content-type': type,
          'cache-control': 'public, max-age=86400',
        });
      },
    );
}
