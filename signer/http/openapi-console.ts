/** The OpenAPI operations of the operator console's JSON API (routes/admin-auth.ts, admin-tokens.ts), by path and method. */
import { z } from 'zod';
import { envelope } from '../../protocol/index.js';
import { activateTokenBody, createTokenBody, updateTokenBody } from '../tokens/index.js';

const schema = (s: z.ZodType) => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' });
const json = (s: z.ZodType) => ({ content: { 'application/json': { schema: schema(s) } } });
const anyEnvelope = envelope(z.unknown());
const reply = (description: string) => ({ description, ...json(anyEnvelope) });
const session = [{ adminSession: [] }];
const guarded = {
  401: reply('Not logged in or the session expired'),
  403: reply('Missing or wrong x-csrf-token, or a form posted from another site'),
};
const tokenErrors = {
  ...guarded,
  400: reply('Invalid settings; `error` names the field'),
  404: reply('No token with this id'),
};
const idParam = [{ name: 'id', in: 'path', required: true, description: 'Token id', schema: { type: 'integer' } }];
const csrfNote =
  'State-changing calls need the session cookie and header x-csrf-token (from login or GET /api/v1/admin/me).';

/** The session-cookie scheme of the console. */
export const adminSessionScheme = {
  adminSession: {
    type: 'apiKey',
    in: 'cookie',
    name: 'signer_session',
    description: 'Set by POST /api/v1/admin/login',
  },
};

/** Paths of admin auth and API-token administration. */
export const consolePaths = {
  '/api/v1/admin/init': {
    post: {
      summary:
        'Create the first admin (only while none exists) with the one-time setup_token the signer printed at start (also in console-setup-token next to its database); password at least 10 characters',
      responses: {
        201: reply('Created'),
        400: reply('Invalid username or password'),
        401: reply('Missing or wrong setup token'),
        409: reply('Already initialized; log in'),
      },
    },
  },
  '/api/v1/admin/login': {
    post: {
      summary: 'Log in: sets the signer_session cookie, returns {username, csrf_token}',
      responses: {
        200: reply('Logged in'),
        401: reply('Wrong username or password'),
        429: reply('Too many failed logins (Retry-After)'),
      },
    },
  },
  '/api/v1/admin/logout': {
    post: {
      summary: 'End the session',
      description: csrfNote,
      security: session,
      responses: { 200: reply('Logged out'), ...guarded },
    },
  },
  '/api/v1/admin/me': {
    get: {
      summary: 'The logged-in admin and the session CSRF token',
      security: session,
      responses: { 200: reply('{id, username, csrf_token}'), 401: guarded[401] },
    },
  },
  '/api/v1/admin/tokens': {
    get: {
      summary: 'API tokens (never the token itself) with usage this month',
      security: session,
      responses: { 200: reply('Tokens'), ...guarded },
    },
    post: {
      summary: 'Create an API token; the answer holds the token, shown only this once',
      description: csrfNote,
      security: session,
      requestBody: json(createTokenBody),
      responses: { 201: reply('Created'), ...tokenErrors },
    },
  },
  '/api/v1/admin/tokens/{id}': {
    get: {
      summary: 'One API token',
      security: session,
      parameters: idParam,
      responses: { 200: reply('Token'), ...tokenErrors },
    },
    patch: {
      summary: 'Change name, allowed models, IP allow-list, limits or expiry',
      description: csrfNote,
      security: session,
      parameters: idParam,
      requestBody: json(updateTokenBody),
      responses: { 200: reply('Updated'), ...tokenErrors },
    },
    delete: {
      summary: 'Delete an API token (any state)',
      description: csrfNote,
      security: session,
      parameters: idParam,
      responses: { 200: reply('Deleted'), ...tokenErrors },
    },
  },
  '/api/v1/admin/tokens/{id}/pause': {
    post: {
      summary: 'Pause an active token',
      description: csrfNote,
      security: session,
      parameters: idParam,
      responses: { 200: reply('Paused'), 409: reply('Not active'), ...tokenErrors },
    },
  },
  '/api/v1/admin/tokens/{id}/activate': {
    post: {
      summary: 'Activate a paused, over-limit (resets the month count) or expired token (needs a future expires_at)',
      description: csrfNote,
      security: session,
      parameters: idParam,
      requestBody: { required: false, ...json(activateTokenBody) },
      responses: {
        200: reply('Active'),
        409: reply('Not paused, over-limit or expired, or the expiry is still past'),
        ...tokenErrors,
      },
    },
  },
};
