/**
 * The Hono app factory: middleware (request id, secure headers, metrics, request log, the console
 * guard), every route (each with its own body limit), and the one error handler that turns errors into the seed's envelope.
 */
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { requestId } from 'hono/request-id';
import { secureHeaders } from 'hono/secure-headers';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ApiError } from '../errors.js';
import { IllegalTransitionError, TaskNotFoundError } from '../tasks/index.js';
import type { Services } from '../services.js';
import type { Env } from './env.js';
import { codeOfStatus, fail } from './respond.js';
import { routeLimitFirst } from './limits.js';
import { consoleGuard } from '../console/index.js';
import { docs, ROUTES } from './routes/index.js';

/** Builds the signer's HTTP app around its services. */
export function createApp(services: Services): Hono<Env> {
  const app = new Hono<Env>();
  app.use(requestId());
  app.use(secureHeaders());
  app.use(async (c, next) => {
    c.set('services', services);
    const started = performance.now();
    await next();
    const route = c.req.routePath || 'unmatched';
    const seconds = (performance.now() - started) / 1000;
    services.metrics.httpRequests.inc({ method: c.req.method, route, status: String(c.res.status) });
    services.metrics.httpDuration.observe({ method: c.req.method, route }, seconds);
    if (services.log.isLevelEnabled('debug'))
      services.log.debug(
        {
          req_id: c.var.requestId,
          method: c.req.method,
          path: c.req.path,
          status: c.res.status,
          ms: Math.round(seconds * 1000),
        },
        'request',
      );
  });
  // Each route declares its body limit (limits.ts); the console guard may read a posted form (its CSRF field)
  // before the route's chain starts, so a guarded route's limit runs first.
  app.use('/console/*', routeLimitFirst);
  app.use('/api/v1/admin/*', routeLimitFirst);
  // Every console page (including /console itself) and /api/v1/admin route needs a logged-in admin (console/guard.ts).
  app.use('/console/*', consoleGuard);
  app.use('/api/v1/admin/*', consoleGuard);
  for (const r of ROUTES) app.route('/', r);
  app.route('/', docs(app));

  // Every error body carries a code (protocol/errors): clients switch on it, never on the message.
  app.notFound((c) =>
    fail(c, 'route_not_found', `no route ${c.req.method} ${c.req.path}; see /openapi.json for the API`),
  );
  app.onError((err, c) => {
    if (err instanceof ApiError) return fail(c, err.code, err.message);
    if (err instanceof HTTPException) {
      const status = err.status as ContentfulStatusCode;
      // hono's JSON parser throws a 400 naming JSON: a body that does not parse has its own code.
      if (status === 400 && /json/i.test(err.message)) {
        return fail(c, 'invalid_json', `body is not valid JSON: ${err.message}`);
      }
      return fail(c, codeOfStatus(status), err.message || 'bad request', status);
    }
    if (err instanceof TaskNotFoundError) return fail(c, 'task_not_found', err.message);
    if (err instanceof IllegalTransitionError) return fail(c, 'task_conflict', err.message);
    services.log.error({ err, req_id: c.var.requestId, path: c.req.path }, 'unhandled error');
    return fail(c, 'internal', `internal error (request ${c.var.requestId}); this is a bug, please report it`);
  });
  return app;
}
