/**
 * The guard's audit log as the console reads it: guard_audit rows, newest first, filtered by model,
 * rule, action and token, a page at a time for the page and in batches for the exports. A row says
 * which rule matched where and what was done; the matched value is never stored, so never shown.
 */
import { and, count, desc, eq, lt, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { GUARD_ACTIONS, PII_KINDS } from '../../protocol/index.js';
import { apiTokens, guardAudit, type SignerDatabase } from '../db/index.js';
import { ApiError } from '../errors.js';

/** The audit log's filters, from a query string (an empty value: any). */
export const auditFilters = z.object({
  model: z.string().trim().min(1).max(128).optional(),
  rule: z.enum(PII_KINDS).optional(),
  action: z.enum(GUARD_ACTIONS).optional(),
  token: z.coerce.number().int().positive().optional().describe('an API token id'),
});
export type AuditFilters = z.infer<typeof auditFilters>;

/** The filters and the page number (from 1) of the audit log page. */
export const auditQuery = auditFilters.extend({ page: z.coerce.number().int().min(1).max(1_000_000).default(1) });
export type AuditQuery = z.infer<typeof auditQuery>;

/** Parses a query string's filters with `schema`; a bad one is a 400 naming the parameter and what it takes. */
export function parseAuditQuery<T extends z.ZodType>(schema: T, query: Record<string, string>): z.infer<T> {
  const given = Object.fromEntries(Object.entries(query).filter(([, v]) => v.trim() !== ''));
  const parsed = schema.safeParse(given);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  throw new ApiError(
    'bad_request',
    `audit log filter ${issues.join('; ')} (rule: ${PII_KINDS.join(', ')}; action: ${GUARD_ACTIONS.join(', ')}; token: a token id)`,
  );
}

/** One finding of the guard, with its token's name (null once the token is deleted, or for calls without one). */
export interface AuditEntry {
  id: number;
  at: number;
  token_id: number | null;
  token_name: string | null;
  model: string;
  request_id: string;
  data_level: string;
  rule: string;
  path: string;
  action: string;
}

/** The columns of an entry, in the order the page and the CSV export show them. */
export const AUDIT_COLUMNS = [
  'id',
  'at',
  'token_id',
  'token_name',
  'model',
  'request_id',
  'data_level',
  'rule',
  'path',
  'action',
] as const satisfies readonly (keyof AuditEntry)[];

function conditions(f: AuditFilters): SQL[] {
  const where: SQL[] = [];
  if (f.model !== undefined) where.push(eq(guardAudit.model, f.model));
  if (f.rule !== undefined) where.push(eq(guardAudit.rule, f.rule));
  if (f.action !== undefined) where.push(eq(guardAudit.action, f.action));
  if (f.token !== undefined) where.push(eq(guardAudit.token_id, f.token));
  return where;
}

function entries(store: SignerDatabase, where: SQL[], limit: number, offset = 0): AuditEntry[] {
  return store.db
    .select({
      id: guardAudit.id,
      at: guardAudit.at,
      token_id: guardAudit.token_id,
      token_name: apiTokens.name,
      model: guardAudit.model,
      request_id: guardAudit.request_id,
      data_level: guardAudit.data_level,
      rule: guardAudit.rule,
      path: guardAudit.path,
      action: guardAudit.action,
    })
    .from(guardAudit)
    .leftJoin(apiTokens, eq(apiTokens.id, guardAudit.token_id))
    .where(and(...where))
    .orderBy(desc(guardAudit.id))
    .limit(limit)
    .offset(offset)
    .all();
}

/** One page of the log. */
export interface AuditPage {
  entries: AuditEntry[];
  /** Entries that match the filters, on every page. */
  total: number;
  page: number;
  pages: number;
  perPage: number;
}

/** Page `page` (from 1) of the entries that match, newest first. */
export function auditPage(store: SignerDatabase, f: AuditFilters, page: number, perPage = 50): AuditPage {
  const where = conditions(f);
  const total =
    store.db
      .select({ n: count() })
      .from(guardAudit)
      .where(and(...where))
      .get()?.n ?? 0;
  return {
    entries: entries(store, where, perPage, (page - 1) * perPage),
    total,
    page,
    pages: Math.max(1, Math.ceil(total / perPage)),
    perPage,
  };
}

/**
 * Every entry that matches, newest first, `size` at a time: each batch is its own query starting
 * below the last id seen, so an export of a long log neither holds it all in memory nor keeps a
 * read transaction open while the client downloads.
 */
export function* auditBatches(store: SignerDatabase, f: AuditFilters, size = 1000): Generator<AuditEntry[]> {
  let below: number | null = null;
  for (;;) {
    const where = conditions(f);
    if (below !== null) where.push(lt(guardAudit.id, below));
    const batch = entries(store, where, size);
    if (batch.length === 0) return;
    yield batch;
    if (batch.length < size) return;
    below = batch[batch.length - 1]!.id;
  }
}
