/**
 * The quota, rate and counting step of the token guard, in one SQLite transaction: a new month
 * restarts the month count (and lifts over_limit), the monthly quota and the per-minute rate are
 * checked, and an admitted request is counted. Counters live in api_tokens, so a restart keeps them.
 */
import { eq } from 'drizzle-orm';
import { apiTokens, type SignerDatabase } from '../db/index.js';
import { tokenRow, usageMonth, type TokenRow } from './service.js';

const MINUTE_MS = 60_000;

/** What the admission step decided. */
export type Admission =
  | { kind: 'admitted'; row: TokenRow }
  | { kind: 'over_quota'; row: TokenRow }
  | { kind: 'over_rate'; row: TokenRow; retryAfterSeconds: number };

/**
 * Checks a token's monthly quota and per-minute rate and counts the request when both allow it.
 * Reaching the quota moves the token to over_limit (the request that reaches it is still served).
 */
export function admit(store: SignerDatabase, id: number, now = Date.now()): Admission {
  return store.sqlite.transaction((): Admission => {
    const row = tokenRow(store, id);
    const month = usageMonth(now);
    const fields: Partial<TokenRow> = {};
    if (row.usage_month !== month) {
      Object.assign(fields, { usage_month: month, month_count: 0 });
      if (row.status === 'over_limit') fields.status = 'active';
    }
    const current = { ...row, ...fields };
    const quotaReached = current.monthly_quota > 0 && current.month_count >= current.monthly_quota;
    if (current.status === 'over_limit' || quotaReached) {
      const updated = { ...fields, status: 'over_limit', updated_at: now };
      store.db.update(apiTokens).set(updated).where(eq(apiTokens.id, id)).run();
      return { kind: 'over_quota', row: { ...current, ...updated } };
    }
    const windowOpen = now - current.minute_started_at < MINUTE_MS;
    const minuteCount = windowOpen ? current.minute_count : 0;
    const minuteStart = windowOpen ? current.minute_started_at : now;
    if (current.rate_limit_per_minute > 0 && minuteCount >= current.rate_limit_per_minute) {
      if (Object.keys(fields).length > 0) store.db.update(apiTokens).set(fields).where(eq(apiTokens.id, id)).run();
      return { kind: 'over_rate', row: current, retryAfterSeconds: Math.max(1, Math.ceil((minuteStart + MINUTE_MS - now) / 1000)) };
    }
    const monthCount = current.month_count + 1;
    const counted: Partial<TokenRow> = {
      ...fields,
      minute_started_at: minuteStart,
      minute_count: minuteCount + 1,
      month_count: monthCount,
      total_count: current.total_count + 1,
      last_used_at: now,
    };
    if (current.monthly_quota > 0 && monthCount >= current.monthly_quota) Object.assign(counted, { status: 'over_limit', updated_at: now });
    store.db.update(apiTokens).set(counted).where(eq(apiTokens.id, id)).run();
    return { kind: 'admitted', row: { ...current, ...counted } };
  })();
}
