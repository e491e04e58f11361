/**
 * The quota, rate and counting step of the token guard, in one SQLite transaction: a new month
 * restarts the month count (and lifts over_limit), the monthly quota and the per-minute rate are
 * checked, and an admitted request (each request of an admitted batch) is counted. Counters live in api_tokens, so a restart keeps them.
 * On PostgreSQL replicas admit one token's requests at once: the step takes the token's row lock
 * first and runs at READ COMMITTED, so admissions queue on the row (each reads the last count)
 * instead of failing each other's REPEATABLE READ snapshots until retries run out.
 */
import { eq } from 'drizzle-orm';
import { apiTokens, atomic, prepared, type SignerDatabase } from '../db/index.js';
import { tokenRow, usageMonth, type TokenRow } from './service.js';

const MINUTE_MS = 60_000;

/** What the admission step decided. `remaining` is what the quota or the minute still allows (null: no limit). */
export type Admission =
  | { kind: 'admitted'; row: TokenRow }
  | { kind: 'over_quota'; row: TokenRow; remaining: number }
  | { kind: 'over_rate'; row: TokenRow; retryAfterSeconds: number; remaining: number };

/**
 * Checks a token's monthly quota and per-minute rate for `items` requests (a batch spends one per
 * request it carries) and counts them all when both allow it; otherwise counts none of them, so a
 * batch is admitted or refused whole. A token with nothing left of its quota moves to over_limit
 * (the request that reaches the quota is still served); a batch larger than what is left does not,
 * since smaller ones still fit.
 */
export function admit(store: SignerDatabase, id: number, now = Date.now(), items = 1): Admission {
  if (!Number.isInteger(items) || items < 1) throw new Error(`admit: items must be a positive integer, got ${items}`);
  const step = (): Admission => {
    if (store.dialect === 'postgres')
      prepared(store.sqlite, 'select id from api_tokens where id = ? for update').get(id);
    const row = tokenRow(store, id);
    const month = usageMonth(now);
    const fields: Partial<TokenRow> = {};
    if (row.usage_month !== month) {
      Object.assign(fields, { usage_month: month, month_count: 0 });
      if (row.status === 'over_limit') fields.status = 'active';
    }
    const saveFields = () => {
      if (Object.keys(fields).length > 0) store.db.update(apiTokens).set(fields).where(eq(apiTokens.id, id)).run();
    };
    const current = { ...row, ...fields };
    const quotaLeft = current.monthly_quota > 0 ? Math.max(0, current.monthly_quota - current.month_count) : Infinity;
    if (current.status === 'over_limit' || quotaLeft === 0) {
      const updated = { ...fields, status: 'over_limit', updated_at: now };
      store.db.update(apiTokens).set(updated).where(eq(apiTokens.id, id)).run();
      return { kind: 'over_quota', row: { ...current, ...updated }, remaining: 0 };
    }
    if (items > quotaLeft) {
      saveFields();
      return { kind: 'over_quota', row: current, remaining: quotaLeft };
    }
    const windowOpen = now - current.minute_started_at < MINUTE_MS;
    const minuteCount = windowOpen ? current.minute_count : 0;
    const minuteStart = windowOpen ? current.minute_started_at : now;
    if (current.rate_limit_per_minute > 0 && minuteCount + items > current.rate_limit_per_minute) {
      saveFields();
      const remaining = Math.max(0, current.rate_limit_per_minute - minuteCount);
      return {
        kind: 'over_rate',
        row: current,
        retryAfterSeconds: Math.max(1, Math.ceil((minuteStart + MINUTE_MS - now) / 1000)),
        remaining,
      };
    }
    const monthCount = current.month_count + items;
    const counted: Partial<TokenRow> = {
      ...fields,
      minute_started_at: minuteStart,
      minute_count: minuteCount + items,
      month_count: monthCount,
      total_count: current.total_count + items,
      last_used_at: now,
    };
    if (current.monthly_quota > 0 && monthCount >= current.monthly_quota)
      Object.assign(counted, { status: 'over_limit', updated_at: now });
    store.db.update(apiTokens).set(counted).where(eq(apiTokens.id, id)).run();
    return { kind: 'admitted', row: { ...current, ...counted } };
  };
  return atomic(store.sqlite, step, { isolation: 'read committed' });
}
