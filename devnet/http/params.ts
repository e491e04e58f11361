/** Request checks shared by the devnet's route handlers; each 400 says what to send instead. */
import type { Context } from 'hono';
import { validateStacksAddress } from '@stacks/transactions';

/** True for a standard principal or a contract principal (`ADDR.name`). */
export function isPrincipal(p: string): boolean {
  const [address, name, extra] = p.split('.');
  return (
    extra === undefined &&
    validateStacksAddress(address) &&
    (name === undefined || /^[a-zA-Z][a-zA-Z0-9_-]{0,127}$/.test(name))
  );
}

/** A 400 whose message says what to fix. */
export function badRequest(c: Context, message: string) {
  return c.json({ error: message }, 400);
}

/** A non-negative integer query parameter, capped at `max`; `def` when absent, null when malformed. */
export function intParam(v: string | undefined, def: number, max: number): number | null {
  if (v === undefined) return def;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? Math.min(n, max) : null;
}
