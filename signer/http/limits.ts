/**
 * Per-route body limits. Each route that reads a body declares one of these first in its chain
 * (routes/*.ts): `defaultLimit` (server.body_limit_bytes) for ordinary JSON and form bodies, or its
 * own, larger limit (model uploads, inference, prepaid requests). A refusal is a 413
 * `payload_too_large` that says what to send instead.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { matchedRoutes } from 'hono/route';
import { findTargetHandler } from 'hono/utils/handler';
import { ApiError } from '../errors.js';
import type { Env } from './env.js';

const LIMITS = new WeakSet<object>();
/** Requests whose body a limit already wraps: the guard's early run (routeLimitFirst) and the route's own share one. */
const limited = new WeakSet<Context>();

/**
 * A body-limit middleware: `max` reads the limit from the config of the request's services, `advice`
 * is the 413 message for that limit (what to do instead).
 */
export function limitBody(max: (c: Context<Env>) => number, advice: (max: number) => string): MiddlewareHandler<Env> {
  const middleware: MiddlewareHandler<Env> = (c, next) => {
    if (limited.has(c)) return next();
    limited.add(c);
    const maxSize = max(c);
    // A declared length (which node's parser holds the body to) is checked from the header alone: hono's
    // bodyLimit reads c.req.raw.body, which makes @hono/node-server build a web Request with two streams
    // around the socket (about a tenth of a completion's CPU), where c.req.text() reads the socket directly.
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      if (Number.parseInt(length, 10) > maxSize) throw new ApiError('payload_too_large', advice(maxSize));
      return next();
    }
    return bodyLimit({
      maxSize,
      onError: () => {
        throw new ApiError('payload_too_large', advice(maxSize));
      },
    })(c, next);
  };
  LIMITS.add(middleware);
  return middleware;
}

/** True for a middleware made by limitBody: tests walk app.routes with it to find a route without a limit. */
export function isBodyLimit(handler: object): boolean {
  return LIMITS.has(findTargetHandler(handler as never));
}

/** The limit of every ordinary body: server.body_limit_bytes. */
export const defaultLimit = limitBody(
  (c) => c.get('services').config.server.body_limit_bytes,
  (max) =>
    `body is larger than ${max} bytes (server.body_limit_bytes); upload large inputs with PUT /api/v1/inputs/{sha256} in one piece no larger than that`,
);

/**
 * Runs the matched route's own body limit now, ahead of middleware mounted for a whole prefix: the
 * console guard reads a posted form (for its CSRF field) before the route's chain starts.
 */
export const routeLimitFirst: MiddlewareHandler<Env> = (c, next) => {
  const own = matchedRoutes(c)
    .map((r) => findTargetHandler(r.handler))
    .find((h) => LIMITS.has(h)) as MiddlewareHandler<Env> | undefined;
  return own ? own(c, next) : next();
};
