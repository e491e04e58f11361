/**
 * API tokens: create (the plain token is returned once; only its sha256 and a short prefix are
 * stored), list, read, update, pause, activate and delete, following the token state machine.
 */
import { createHash, randomBytes } from 'node:crypto';
import { and, desc, eq, inArray, isNotNull, lte } from 'drizzle-orm';
import type { DataLevel } from '../../protocol/index.js';
import { apiTokens, type SignerDatabase } from '../db/index.js';
import { ApiError } from '../errors.js';
import type { CreateTokenInput, UpdateTokenInput } from './settings.js';
import { adminMove, type TokenStatus } from './state.js';

/** A token row as stored. */
export type TokenRow = typeof apiTokens.$inferSelect;

/** A token as the admin API and pages show it (never the token itself). */
export interface TokenView {
  id: number;
  name: string;
  prefix: string;
  status: TokenStatus;
  allowed_models: string[] | null;
  ip_allowlist: string[];
  rate_limit_per_minute: number;
  monthly_quota: number;
  expires_at: number | null;
  /** The prepaid account each call is paid from (signer/accounts/metered.ts); null: not metered. */
  account: string | null;
  /** The token's data level; null: the guard's default_level applies. */
  data_level: DataLevel | null;
  usage: { month: string; month_count: number; total_count: number; last_used_at: number | null };
  created_at: number;
  updated_at: number;
}

const PREFIX_LENGTH = 10;

/** sha256 (hex) of a plain token: what is stored and looked up. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** `YYYY-MM` (UTC) of a time: the month a monthly quota counts. */
export function usageMonth(at: number): string {
  return new Date(at).toISOString().slice(0, 7);
}

/** The public view of a row; the month count reads 0 once its month is over. */
export function tokenView(row: TokenRow, now = Date.now()): TokenView {
  const month = usageMonth(now);
  return {
    id: row.id,
    name: row.name,
    prefix: row.token_prefix,
    status: row.status as TokenStatus,
    allowed_models: row.allowed_models === null ? null : (JSON.parse(row.allowed_models) as string[]),
    ip_allowlist: JSON.parse(row.ip_allowlist) as string[],
    rate_limit_per_minute: row.rate_limit_per_minute,
    monthly_quota: row.monthly_quota,
    expires_at: row.expires_at,
    account: row.account ?? null,
    data_level: (row.data_level as DataLevel | null) ?? null,
    usage: {
      month,
      month_count: row.usage_month === month ? row.month_count : 0,
      total_count: row.total_count,
      last_used_at: row.last_used_at,
    },
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

function futureExpiry(expiresAt: number | null | undefined, now: number): void {
  if (expiresAt != null && expiresAt <= now)
    throw new ApiError(
      'bad_request',
      `expires_at ${new Date(expiresAt).toISOString()} is in the past; give a time in the future or null for no expiry`,
    );
}

function stored(input: UpdateTokenInput): Partial<TokenRow> {
  const row: Partial<TokenRow> = {};
  if (input.name !== undefined) row.name = input.name;
  if (input.allowed_models !== undefined)
    row.allowed_models = input.allowed_models === null ? null : JSON.stringify([...new Set(input.allowed_models)]);
  if (input.ip_allowlist !== undefined) row.ip_allowlist = JSON.stringify([...new Set(input.ip_allowlist)]);
  if (input.rate_limit_per_minute !== undefined) row.rate_limit_per_minute = input.rate_limit_per_minute;
  if (input.monthly_quota !== undefined) row.monthly_quota = input.monthly_quota;
  if (input.expires_at !== undefined) row.expires_at = input.expires_at;
  if (input.account !== undefined) row.account = input.account;
  if (input.data_level !== undefined) row.data_level = input.data_level;
  return row;
}

/** Moves tokens whose expiry has passed to expired (from active or paused). */
export function expireTokens(store: SignerDatabase, now = Date.now()): void {
  store.db
    .update(apiTokens)
    .set({ status: 'expired', updated_at: now })
    .where(
      and(
        inArray(apiTokens.status, ['active', 'paused']),
        isNotNull(apiTokens.expires_at),
        lte(apiTokens.expires_at, now),
      ),
    )
    .run();
}

/** Creates a token; `token` is the only time the plain token is available. */
export function createToken(
  store: SignerDatabase,
  input: CreateTokenInput,
  now = Date.now(),
): { token: string; view: TokenView } {
  futureExpiry(input.expires_at, now);
  const token = `sk_${randomBytes(32).toString('base64url')}`;
  const row = store.db
    .insert(apiTokens)
    .values({
      name: input.name,
      token_hash: tokenHash(token),
      token_prefix: token.slice(0, PREFIX_LENGTH),
      ...stored(input),
      status: 'active',
      usage_month: usageMonth(now),
      created_at: now,
      updated_at: now,
    })
    .returning()
    .get();
  return { token, view: tokenView(row, now) };
}

/** Every token, newest first. */
export function listTokens(store: SignerDatabase, now = Date.now()): TokenView[] {
  expireTokens(store, now);
  return store.db
    .select()
    .from(apiTokens)
    .orderBy(desc(apiTokens.id))
    .all()
    .map((r) => tokenView(r, now));
}

/** One token's row; 404 when there is none. */
export function tokenRow(store: SignerDatabase, id: number): TokenRow {
  const row = store.db.select().from(apiTokens).where(eq(apiTokens.id, id)).get();
  if (!row) throw new ApiError('not_found', `no API token with id ${id}; list them with GET /api/v1/admin/tokens`);
  return row;
}

/** One token. */
export function getToken(store: SignerDatabase, id: number, now = Date.now()): TokenView {
  expireTokens(store, now);
  return tokenView(tokenRow(store, id), now);
}

function save(store: SignerDatabase, id: number, fields: Partial<TokenRow>, now: number): TokenView {
  const row = store.db
    .update(apiTokens)
    .set({ ...fields, updated_at: now })
    .where(eq(apiTokens.id, id))
    .returning()
    .get();
  return tokenView(row, now);
}

/** Changes a token's settings (its state only moves through pause and activate). */
export function updateToken(store: SignerDatabase, id: number, input: UpdateTokenInput, now = Date.now()): TokenView {
  tokenRow(store, id);
  futureExpiry(input.expires_at, now);
  return save(store, id, stored(input), now);
}

/** Pauses an active token. */
export function pauseToken(store: SignerDatabase, id: number, now = Date.now()): TokenView {
  expireTokens(store, now);
  return save(store, id, { status: adminMove(tokenRow(store, id).status as TokenStatus, 'pause') }, now);
}

/**
 * Activates a paused, over-limit or expired token. Over-limit: this month's count restarts at 0.
 * Expired: needs an expiry in the future (given here, or set before with update) or null.
 */
export function activateToken(
  store: SignerDatabase,
  id: number,
  opts: { expires_at?: number | null } = {},
  now = Date.now(),
): TokenView {
  expireTokens(store, now);
  const row = tokenRow(store, id);
  const from = row.status as TokenStatus;
  const fields: Partial<TokenRow> = { status: adminMove(from, 'activate') };
  futureExpiry(opts.expires_at, now);
  if (opts.expires_at !== undefined) fields.expires_at = opts.expires_at;
  const expiresAt = opts.expires_at !== undefined ? opts.expires_at : row.expires_at;
  if (from === 'expired' && expiresAt !== null && expiresAt <= now) {
    throw new ApiError(
      'conflict',
      `token ${row.name} expired at ${new Date(expiresAt).toISOString()}; activate it with a new expires_at in the future (or null for no expiry)`,
    );
  }
  if (from === 'over_limit') Object.assign(fields, { month_count: 0, usage_month: usageMonth(now) });
  return save(store, id, fields, now);
}

/** Deletes a token (from any state); its usage rows in inference_logs stay. */
export function deleteToken(store: SignerDatabase, id: number): void {
  tokenRow(store, id);
  store.db.delete(apiTokens).where(eq(apiTokens.id, id)).run();
}
