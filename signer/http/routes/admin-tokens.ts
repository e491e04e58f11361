/**
 * The admin API of API tokens: GET/POST /api/v1/admin/tokens, GET/PATCH/DELETE
 * /api/v1/admin/tokens/{id}, POST /api/v1/admin/tokens/{id}/pause and /activate. The console's
 * session guard (mounted on /api/v1/admin/*) has already checked the admin and CSRF token.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import {
  activateToken,
  activateTokenBody,
  createToken,
  createTokenBody,
  deleteToken,
  getToken,
  listTokens,
  pauseToken,
  updateToken,
  updateTokenBody,
} from '../../tokens/index.js';
import { ApiError } from '../../errors.js';
import type { Env } from '../env.js';
import { defaultLimit } from '../limits.js';
import { consolePaths } from '../openapi-console.js';
import { doc, valid } from '../openapi-doc.js';
import { describeIssues, ok } from '../respond.js';

const idParam = valid('param', z.object({ id: z.coerce.number().int().positive() }));

/** Token administration routes. */
export const adminTokens = new Hono<Env>()
  .get('/api/v1/admin/tokens', doc('admin', consolePaths['/api/v1/admin/tokens'].get), (c) =>
    ok(c, listTokens(c.var.services.store)),
  )
  .post(
    '/api/v1/admin/tokens',
    defaultLimit,
    doc('admin', consolePaths['/api/v1/admin/tokens'].post),
    valid('json', createTokenBody),
    (c) => {
      const { token, view } = createToken(c.var.services.store, c.req.valid('json'));
      c.var.services.log.info({ token_id: view.id, name: view.name, admin: c.var.admin.username }, 'API token created');
      return ok(c, { ...view, token, note: 'the token is shown only now; store it safely' }, 201);
    },
  )
  .get('/api/v1/admin/tokens/:id', doc('admin', consolePaths['/api/v1/admin/tokens/{id}'].get), idParam, (c) =>
    ok(c, getToken(c.var.services.store, c.req.valid('param').id)),
  )
  .patch(
    '/api/v1/admin/tokens/:id',
    defaultLimit,
    doc('admin', consolePaths['/api/v1/admin/tokens/{id}'].patch),
    idParam,
    valid('json', updateTokenBody),
    (c) => ok(c, updateToken(c.var.services.store, c.req.valid('param').id, c.req.valid('json'))),
  )
  .delete(
    '/api/v1/admin/tokens/:id',
    defaultLimit,
    doc('admin', consolePaths['/api/v1/admin/tokens/{id}'].delete),
    idParam,
    (c) => {
      const { id } = c.req.valid('param');
      deleteToken(c.var.services.store, id);
      return ok(c, { id, deleted: true });
    },
  )
  .post(
    '/api/v1/admin/tokens/:id/pause',
    defaultLimit,
    doc('admin', consolePaths['/api/v1/admin/tokens/{id}/pause'].post),
    idParam,
    (c) => ok(c, pauseToken(c.var.services.store, c.req.valid('param').id)),
  )
  .post(
    '/api/v1/admin/tokens/:id/activate',
    defaultLimit,
    doc('admin', consolePaths['/api/v1/admin/tokens/{id}/activate'].post),
    idParam,
    async (c) => {
      // The body is optional: only an expired token needs one ({expires_at}).
      const text = await c.req.text();
      let json: unknown = {};
      try {
        if (text.trim() !== '') json = JSON.parse(text);
      } catch (err) {
        throw new ApiError('bad_request', `body is not valid JSON: ${(err as Error).message}`);
      }
      const parsed = activateTokenBody.safeParse(json);
      if (!parsed.success) throw new ApiError('bad_request', describeIssues(parsed.error, 'json'));
      return ok(c, activateToken(c.var.services.store, c.req.valid('param').id, parsed.data));
    },
  );
