/**
 * The address of the client a request came from: the TCP peer as @hono/node-server reports it.
 * Forwarded-for headers are ignored on purpose: any client can write them, and the signer does
 * not know which proxy (if any) to trust.
 */
import type { Context } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';

/** Resolves a request's client address; undefined when there is no socket (e.g. `app.request` in tests). */
export type ClientIpResolver = (c: Context) => string | undefined;

/** The TCP peer's address, or undefined when the request did not arrive over a socket. */
export const socketClientIp: ClientIpResolver = (c) => {
  const bindings = c.env as { incoming?: unknown; server?: { incoming?: unknown } } | undefined;
  if (!bindings?.incoming && !bindings?.server?.incoming) return undefined;
  return getConnInfo(c).remote.address;
};
