/**
 * The OpenAPI document is generated from the app's routes (signer/http/openapi.ts): every route the
 * app serves is in it under a tag, and a validation failure still answers with the signer's envelope.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TAGS } from '../../signer/http/openapi-doc.js';
import { makeSigner, type TestSigner } from './helpers.js';

let t: TestSigner;
beforeEach(() => {
  t = makeSigner();
});
afterEach(() => t.close());

type Operation = {
  tags?: string[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, unknown>;
};
type Document = { paths: Record<string, Record<string, Operation>>; tags: { name: string }[] };

/** Hono's `/:id{[0-9]+}` and `/:name` as OpenAPI's `/{id}` and `/{name}`. */
const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, '{$1}');

async function document(): Promise<Document> {
  const res = await t.app.request('/openapi.json');
  expect(res.status).toBe(200);
  return (await res.json()) as Document;
}

describe('/openapi.json', () => {
  it('lists every route the app serves, each under one of the declared tags', async () => {
    const doc = await document();
    expect(doc.tags.map((g) => g.name)).toEqual(Object.keys(TAGS));
    const served = new Set(
      t.app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method.toLowerCase()} ${openApiPath(r.path)}`),
    );
    expect(served.size).toBeGreaterThan(60);
    const missing: string[] = [];
    for (const route of served) {
      const [method, path] = route.split(' ');
      const op = doc.paths[path]?.[method];
      if (!op?.tags?.length || op.tags.some((tag) => !(tag in TAGS))) missing.push(route);
    }
    expect(missing).toEqual([]);
  });

  it('documents request bodies from the zod schemas and envelope responses', async () => {
    const doc = await document();
    const heartbeat = doc.paths['/api/v1/nodes/heartbeat'].post;
    expect(heartbeat.tags).toEqual(['nodes']);
    const body = heartbeat.requestBody!.content['application/json'].schema as {
      properties: Record<string, unknown>;
      required: string[];
    };
    expect(Object.keys(body.properties).sort()).toEqual(['node_id', 'status']);
    const infer = doc.paths['/api/v1/models/{model}/infer'].post;
    expect(
      Object.keys((infer.requestBody!.content['application/json'].schema as { properties: object }).properties),
    ).toContain('inputs');
    const ok = JSON.stringify(doc.paths['/api/v1/tasks/{task_id}/status'].get.responses['200']);
    for (const field of ['success', 'data', 'error', 'code']) expect(ok).toContain(`"${field}"`);
    const refusal = JSON.stringify(heartbeat.responses['400']);
    expect(refusal).toContain('"code"');
  });

  it('keeps the interactive docs page', async () => {
    const res = await t.app.request('/docs');
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('/openapi.json');
  });
});

describe('validation through the documented validators', () => {
  it('answers an invalid body with the envelope and a code, not the library format', async () => {
    const res = await t.app.request('/api/v1/admin/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'http://localhost' },
      body: JSON.stringify({ username: '' }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { success: boolean; data: unknown; error: string; code: string };
    expect(body).toMatchObject({ success: false, data: null, code: 'bad_request' });
    expect(body.error).toMatch(/^body username: /);
  });

  it('answers an invalid path parameter and query with the envelope and a code', async () => {
    const res = await t.app.request('/api/v1/tasks/not%20an%20id/status');
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      success: false,
      code: 'bad_request',
      error: expect.stringMatching(/^path parameter task_id: /),
    });
    const periods = await t.app.request('/api/v1/periods?limit=x');
    expect(periods.status).toBe(400);
    expect(await periods.json()).toMatchObject({ success: false, code: 'bad_request' });
  });
});
