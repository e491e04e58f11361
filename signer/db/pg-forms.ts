/**
 * PostgreSQL forms of the signer's SQLite-only statements (issue 15). The facade's translator
 * (pg-translate.ts) looks each SQL text up here before its generic rewrite (`?`/`:name` → `$n`,
 * `cast(… as integer)` → bigint), so a form may still use `?` and `:name` placeholders.
 *
 * Hand-written statements: keyed by their text exactly as the code prepares it (whitespace
 * included), copied rather than imported (this module is loaded by the facade: importing the
 * signer's modules would make an import cycle). drizzle's statements: by their shape (inserts that
 * leave an id out, ORDER BY a nullable column), since their texts follow the tables' columns.
 * tests/signer/pg-forms.test.ts fails when a statement with a SQLite-only token has no form here,
 * when a key no longer matches any statement in the code, and when a form returns other rows than
 * its SQLite original on the same data.
 *
 * Forms spell casts `cast(x as t)`, never `x::t`: one spelling to check. Sums over micro-STX kept
 * as text use numeric: PostgreSQL's bigint cast fails past 2^63 where SQLite's saturates, and
 * numeric is what sum() of bigint returns anyway.
 */
import { is } from 'drizzle-orm';
import { getTableConfig, SQLiteTable } from 'drizzle-orm/sqlite-core';
import * as tables from './tables/index.js';

const EXACT = new Map<string, string>([
  // http/routes/pull.ts smallInputs: a JSON array parameter → json_array_elements_text.
  [
    'select sha256, data from input_blobs where sha256 in (select value from json_each(?)) and size <= ?',
    'select sha256, data from input_blobs where sha256 in (select j.value from json_array_elements_text(cast(? as json)) j(value)) and size <= ?',
  ],
  // chain/submitter.ts settle: the batch's tasks named by its task_ids JSON.
  [
    'select t.task_id, t.status, t.deadline from json_each(?) j join inference_tasks t on t.task_id = j.value',
    'select t.task_id, t.status, t.deadline from json_array_elements_text(cast(? as json)) j(value) join inference_tasks t on t.task_id = j.value',
  ],
  // chain/submitter.ts readyBatch: SQLite sorts NULLs first in ascending order, PostgreSQL last.
  [
    "select task_id, chain_task_id, deadline, completed_at, output_hash, signature, node_public_key, votes from inference_tasks where status = 'completed' and source = 'chain' and settlement_txid is null order by deadline asc, completed_at asc limit ?",
    "select task_id, chain_task_id, deadline, completed_at, output_hash, signature, node_public_key, votes from inference_tasks where status = 'completed' and source = 'chain' and settlement_txid is null order by deadline asc nulls first, completed_at asc nulls first limit ?",
  ],
  // accounts/periods.ts readCandidates: paid receipts by paid_at, a nullable column (NULLs first as in SQLite).
  [
    "select task_id, account, fee, leaf_hash, shares from prepaid_receipts where status = 'paid' and period_id is null order by paid_at asc, task_id asc",
    "select task_id, account, fee, leaf_hash, shares from prepaid_receipts where status = 'paid' and period_id is null order by paid_at asc nulls first, task_id asc",
  ],
  // privacy/index.ts storeSealedInput: insert or replace → upsert on the primary key (the only unique key).
  [
    'insert or replace into sealed_inputs (input_hash, node_id, holder, ciphertext_sha256, reservation_id, created_at) values (?, ?, ?, ?, ?, ?)',
    'insert into sealed_inputs (input_hash, node_id, holder, ciphertext_sha256, reservation_id, created_at) values (?, ?, ?, ?, ?, ?) on conflict (input_hash, node_id, holder) do update set ciphertext_sha256 = excluded.ciphertext_sha256, reservation_id = excluded.reservation_id, created_at = excluded.created_at',
  ],
  // accounts/metered.ts and accounts/settler.ts: PostgreSQL finds a bare column in an upsert's
  // SET ambiguous (the existing row or `excluded`): the table names it. Sums as numeric.
  [
    "insert into payee_credits (payee, owed, credited, updated_at) values (?, ?, '0', ?) on conflict (payee) do update set owed = cast(cast(owed as integer) + cast(excluded.owed as integer) as text), updated_at = excluded.updated_at",
    "insert into payee_credits (payee, owed, credited, updated_at) values (?, ?, '0', ?) on conflict (payee) do update set owed = cast(cast(payee_credits.owed as numeric) + cast(excluded.owed as numeric) as text), updated_at = excluded.updated_at",
  ],
  [
    "insert into payee_credits (payee, owed, credited, updated_at) values (?, '0', ?, ?) on conflict(payee) do update set credited = cast(cast(credited as integer) + cast(excluded.credited as integer) as text), updated_at = excluded.updated_at",
    "insert into payee_credits (payee, owed, credited, updated_at) values (?, '0', ?, ?) on conflict (payee) do update set credited = cast(cast(payee_credits.credited as numeric) + cast(excluded.credited as numeric) as text), updated_at = excluded.updated_at",
  ],
  // accounts/payments.ts dueReceipts: oldest first, and within one created_at millisecond in the
  // order the receipts were taken (a batch's requests in their order), which rowid gives SQLite.
  // PostgreSQL has no rowid, and the task id is a hash: the id of the task's creation event, inserted
  // just before its receipt in the same transaction (accounts/intake.ts), increases the same way.
  [
    "select * from prepaid_receipts where status = 'due' and account = ? order by created_at asc, rowid asc limit ?",
    "select r.* from prepaid_receipts r where r.status = 'due' and r.account = ? order by r.created_at asc, (select min(e.id) from task_events e where e.task_id = r.task_id) asc limit ?",
  ],
  // accounts/payments.ts readReceipts: in the array's order (json_each's key = ordinality).
  [
    'select r.* from json_each(?) j join prepaid_receipts r on r.task_id = j.value order by j.key',
    'select r.* from json_array_elements_text(cast(? as json)) with ordinality j(value, key) join prepaid_receipts r on r.task_id = j.value order by j.key',
  ],
  // guard/trusted.ts trustedNodeServes: the node's supported_models JSON array.
  [
    "select 1 from inference_nodes n where n.trusted = 1 and n.status in ('online', 'busy') and exists (select 1 from json_each(n.supported_models) m where m.value = ?) limit 1",
    "select 1 from inference_nodes n where n.trusted = 1 and n.status in ('online', 'busy') and exists (select 1 from json_array_elements_text(cast(n.supported_models as json)) m(value) where m.value = ?) limit 1",
  ],
  // accounts/receipts.ts expireRequests: json_extract → ->>.
  [
    "select t.* from prepaid_receipts r join inference_tasks t on t.task_id = r.task_id where r.status = 'running' and t.status = 'pending' and cast(json_extract(r.request, '$.expiry') as integer) <= ? limit 1000",
    "select t.* from prepaid_receipts r join inference_tasks t on t.task_id = r.task_id where r.status = 'running' and t.status = 'pending' and cast(cast(r.request as json)->>'expiry' as bigint) <= ? limit 1000",
  ],
  // tasks/spot-checks.ts WAITING_CHECKS: votes is JSON kept as text.
  [
    "select * from inference_tasks where status = 'pending' and votes is not null and security = 1 and runs_needed = 2 and json_array_length(votes) = 1",
    "select * from inference_tasks where status = 'pending' and votes is not null and security = 1 and runs_needed = 2 and json_array_length(cast(votes as json)) = 1",
  ],
  // accounts/pricing.ts paidVolume: a sum over micro-STX text.
  [
    "select coalesce(sum(cast(fee as integer)), 0) as v from prepaid_receipts where status in ('paid', 'settled') and account = ? and paid_at >= ?",
    "select coalesce(sum(cast(fee as numeric)), 0) as v from prepaid_receipts where status in ('paid', 'settled') and account = ? and paid_at >= ?",
  ],
  // accounts/metered.ts tokenReserved: a sum over micro-STX text.
  [
    "select coalesce(sum(cast(max_fee as integer)), 0) n from prepaid_receipts where status = 'running' and account = ? and request_signature = ?",
    "select coalesce(sum(cast(max_fee as numeric)), 0) n from prepaid_receipts where status = 'running' and account = ? and request_signature = ?",
  ],
  // accounts/periods.ts readDueSummary: a sum over micro-STX text.
  [
    "select count(*) n, coalesce(sum(cast(fee as integer)), 0) total, min(paid_at) oldest from prepaid_receipts where status = 'paid' and period_id is null",
    "select count(*) n, coalesce(sum(cast(fee as numeric)), 0) total, min(paid_at) oldest from prepaid_receipts where status = 'paid' and period_id is null",
  ],
  // dashboard/accounts.ts: each account's last confirmed period, from the periods' items JSON.
  [
    "select json_extract(i.value, '$.account') account, max(p.id) id from (select id, items from prepaid_periods where status = 'confirmed' order by id desc limit ?) p, json_each(p.items, '$.items') i group by account",
    "select i.value->>'account' account, max(p.id) id from (select id, items from prepaid_periods where status = 'confirmed' order by id desc limit ?) p, json_array_elements(cast(p.items as json)->'items') i(value) group by account",
  ],
  // dashboard/totals.ts taskTotals: node payouts (micro-STX text) summed.
  [
    `select source, status, model_type model, inference_node_id node, count(*) n,
      sum(case when status = 'settled' then cast(node_payout as integer) end) payout
    from inference_tasks group by source, status, model_type, inference_node_id`,
    `select source, status, model_type model, inference_node_id node, count(*) n,
      sum(case when status = 'settled' then cast(node_payout as numeric) end) payout
    from inference_tasks group by source, status, model_type, inference_node_id`,
  ],
  // dashboard/tables.ts earningsByNode: PostgreSQL refuses `cross join … on`; payouts summed as numeric.
  [
    `select t.inference_node_id k, cast((t.settled_at - :start) / :size as integer) b, sum(cast(t.node_payout as integer)) n
    from settlements s cross join inference_tasks t on t.settlement_txid = s.txid
    where s.kind = 'complete-tasks' and s.status = 'confirmed' and s.updated_at >= :start
      and t.status = 'settled' and t.settled_at >= :start and t.settled_at < :end and t.node_payout is not null
    group by k, b`,
    `select t.inference_node_id k, cast((t.settled_at - :start) / :size as bigint) b, sum(cast(t.node_payout as numeric)) n
    from settlements s join inference_tasks t on t.settlement_txid = s.txid
    where s.kind = 'complete-tasks' and s.status = 'confirmed' and s.updated_at >= :start
      and t.status = 'settled' and t.settled_at >= :start and t.settled_at < :end and t.node_payout is not null
    group by k, b`,
  ],
  // dashboard/series.ts percentiles (taskLatency, directLatency): scalar max → greatest, and
  // PostgreSQL before 16 wants a subquery in FROM named.
  [
    `select cast((t - :start) / :size as integer) b, cast(round(ln(max(ms, 1)) * 40) as integer) bin, count(*) n
    from (select completed_at t, completed_at - created_at ms from inference_tasks where completed_at >= :start and completed_at < :end) group by b, bin order by b, bin`,
    `select cast((t - :start) / :size as bigint) b, cast(round(ln(greatest(ms, 1)) * 40) as bigint) bin, count(*) n
    from (select completed_at t, completed_at - created_at ms from inference_tasks where completed_at >= :start and completed_at < :end) samples group by b, bin order by b, bin`,
  ],
  [
    `select cast((t - :start) / :size as integer) b, cast(round(ln(max(ms, 1)) * 40) as integer) bin, count(*) n
    from (select created_at t, latency_ms ms from inference_logs where created_at >= :start and created_at < :end and status = 'success' and latency_ms is not null) group by b, bin order by b, bin`,
    `select cast((t - :start) / :size as bigint) b, cast(round(ln(greatest(ms, 1)) * 40) as bigint) bin, count(*) n
    from (select created_at t, latency_ms ms from inference_logs where created_at >= :start and created_at < :end and status = 'success' and latency_ms is not null) samples group by b, bin order by b, bin`,
  ],
]);

/**
 * drizzle's insert (quoted table and columns, `values (…), (…)`, then maybe a conflict clause or
 * `returning`). It writes `null` for each column the row leaves out that has no default.
 */
const DRIZZLE_INSERT = /^(insert into "[^"]+" \([^)]*\) values )(.*?)( on conflict .*| returning .*)?$/s;

/**
 * drizzle's insert with `default` for its `null`s: SQLite numbers a row whose integer primary key
 * is null, PostgreSQL refuses null in an identity column and generates the value only for
 * `default`. A column without a default gets null from `default` too, so nothing else changes.
 */
function drizzleInsert(sql: string): string | undefined {
  const m = DRIZZLE_INSERT.exec(sql);
  if (!m || !/\bnull\b/.test(m[2]!)) return undefined;
  return m[1] + m[2]!.replace(/([(,]\s*)null(?=\s*[,)])/g, '$1default') + (m[3] ?? '');
}

/** Nullable columns by table name. */
const NULLABLE = new Map(
  Object.values(tables).flatMap((t: unknown) => {
    if (!is(t, SQLiteTable)) return [];
    const c = getTableConfig(t);
    return [[c.name, new Set(c.columns.filter((col) => !col.notNull).map((col) => col.name))] as const];
  }),
);

/** A term of drizzle's ORDER BY: `"table"."column"`, then maybe ` asc` or ` desc`. */
const DRIZZLE_ORDER_TERM = /"(\w+)"\."(\w+)"( asc| desc)?(?=,| limit | offset |$)/g;

/**
 * drizzle's select with `nulls first` (ascending) or `nulls last` (descending) on each nullable
 * column it orders by: where SQLite puts NULLs, PostgreSQL puts them at the other end.
 */
function drizzleOrder(sql: string): string | undefined {
  const at = sql.lastIndexOf(' order by "');
  if (!sql.startsWith('select ') || at < 0) return undefined;
  let changed = false;
  const tail = sql.slice(at).replace(DRIZZLE_ORDER_TERM, (term, table: string, column: string, dir?: string) => {
    if (!NULLABLE.get(table)?.has(column)) return term;
    changed = true;
    return `${term}${dir === ' desc' ? ' nulls last' : ' nulls first'}`;
  });
  return changed ? sql.slice(0, at) + tail : undefined;
}

/** The exact-text forms, and drizzle's statements by their shape (which no list of texts could hold). */
class PgForms extends Map<string, string> {
  override get(sql: string): string | undefined {
    return super.get(sql) ?? drizzleInsert(sql) ?? drizzleOrder(sql);
  }

  override has(sql: string): boolean {
    return this.get(sql) !== undefined;
  }
}

/** The PostgreSQL form of each SQLite-only statement text (see the top of this file). */
export const PG_FORMS: ReadonlyMap<string, string> = new PgForms(EXACT);
