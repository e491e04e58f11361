/**
 * One small data set, written alike to a SQLite and a PostgreSQL database, on which each
 * statement of signer/db/pg-forms.ts runs in both forms (tests/signer/pg-forms.test.ts). The rows
 * hit what the forms change: NULL deadlines, votes and item JSON, receipts created in one
 * millisecond, a trusted node, payouts kept as text.
 */
import { is } from 'drizzle-orm';
import { getTableConfig, SQLiteTable } from 'drizzle-orm/sqlite-core';
import * as tables from '../../signer/db/tables/index.js';
import { TASK_TOTALS_SQL } from '../../signer/dashboard/totals.js';
import { WAITING_CHECKS } from '../../signer/tasks/spot-checks.js';
import { PG_FORMS } from '../../signer/db/pg-forms.js';
import { signerSql } from './pg-forms-scan.js';

/** Runs one statement (SQLite text, `?` parameters) on one of the two databases. */
export type Exec = (sql: string, params: unknown[]) => Promise<unknown>;

/** The tables with an integer primary key SQLite numbers (an identity column on PostgreSQL). */
export const NUMBERED = Object.values(tables).filter(
  (t: unknown): t is SQLiteTable =>
    is(t, SQLiteTable) && getTableConfig(t).columns.some((c) => (c as { autoIncrement?: boolean }).autoIncrement),
);

const byName = new Map(
  Object.values(tables)
    .flatMap((t: unknown) => (is(t, SQLiteTable) ? [getTableConfig(t)] : []))
    .map((c) => [c.name, c]),
);

let fills = 0;

/** `row` with every other NOT NULL column (no default) given a plain value: 0, or a text unique to it. */
export function filled(table: string, row: Record<string, unknown>): Record<string, unknown> {
  const config = byName.get(table);
  if (!config) throw new Error(`no table ${table}`);
  const out = { ...row };
  for (const c of config.columns) {
    const generated = (c as { autoIncrement?: boolean }).autoIncrement;
    if (c.name in out || !c.notNull || c.hasDefault || generated) continue;
    out[c.name] = ['SQLiteInteger', 'SQLiteReal'].includes(c.columnType)
      ? 0
      : c.columnType === 'SQLiteBlobBuffer'
        ? Buffer.from('x')
        : `x${++fills}`;
  }
  return out;
}

const A = 'artifact-a';
const node = (id: string, status: string, trusted: number, models: string[]) => ({
  node_id: id,
  status,
  trusted,
  supported_models: JSON.stringify(models),
});
const vote = (id: string) => ({ node_id: id, output_hash: 'h', signature: 's' });
let created = 1_000;
// Each task created at its own ms: a tie would leave `order by priority, created_at` free to differ.
const task = (id: string, o: Record<string, unknown>) => ({
  task_id: id,
  status: 'pending',
  source: 'chain',
  model_type: 'm1',
  artifact_hash: A,
  priority: 0,
  created_at: created++,
  trusted_only: 0,
  privacy: 'standard',
  security: 0,
  runs_needed: 1,
  ...o,
});
const receipt = (id: string, o: Record<string, unknown>) => ({
  task_id: id,
  account: 'acct1',
  nonce: id,
  request: JSON.stringify({ expiry: 500 }),
  request_signature: 'sig',
  max_fee: '1000',
  status: 'due',
  created_at: 10,
  ...o,
});

/** Rows by table, inserted in this order (receipts r2 and r1 share a created_at: rowid order is r2, r1). */
export const ROWS: [string, Record<string, unknown>][] = [
  ['inference_nodes', node('n1', 'online', 0, [A])],
  ['inference_nodes', node('n2', 'busy', 1, [A, 'artifact-b'])],
  ['inference_nodes', node('n3', 'offline', 1, ['artifact-c'])],
  ['input_blobs', { sha256: 'h1', data: Buffer.from('small'), size: 5, created_at: 1 }],
  ['input_blobs', { sha256: 'h2', data: Buffer.from('a larger blob'), size: 13, created_at: 1 }],
  ['input_blobs', { sha256: 'h3', data: Buffer.from([0, 1, 2]), size: 3, created_at: 1 }],
  [
    'sealed_inputs',
    { input_hash: 'h3', node_id: 'n2', holder: 'u1', ciphertext_sha256: 'c', reservation_id: 'r', created_at: 1 },
  ],
  ['inference_tasks', task('p1', { priority: 2, created_at: 900, deadline: null, input_hash: 'h1' })],
  [
    'inference_tasks',
    task('p2', { deadline: 150, votes: JSON.stringify([vote('n1')]), security: 1, runs_needed: 2, input_hash: 'h2' }),
  ],
  ['inference_tasks', task('p3', { deadline: 90, trusted_only: 1, input_hash: 'h1' })],
  ['inference_tasks', task('p4', { trusted_only: 1, input_hash: 'h3', privacy: 'encrypted', user_address: 'u1' })],
  [
    'inference_tasks',
    task('p5', {
      artifact_hash: 'artifact-b',
      votes: JSON.stringify([vote('n2'), vote('n1')]),
      security: 1,
      runs_needed: 2,
    }),
  ],
  ['inference_tasks', task('c1', { status: 'completed', deadline: 300, completed_at: 2_000, inference_node_id: 'n1' })],
  [
    'inference_tasks',
    task('c2', { status: 'completed', deadline: null, completed_at: 2_500, inference_node_id: 'n2' }),
  ],
  ['inference_tasks', task('c3', { status: 'completed', deadline: 200, completed_at: 2_100, inference_node_id: 'n1' })],
  ['inference_tasks', task('c4', { status: 'completed', source: 'direct', completed_at: 2_050 })],
  [
    'inference_tasks',
    task('s1', {
      status: 'settled',
      inference_node_id: 'n1',
      node_payout: '4500000000000',
      settlement_txid: 'tx1',
      settled_at: 5_000,
      completed_at: 4_000,
    }),
  ],
  [
    'inference_tasks',
    task('s2', {
      status: 'settled',
      inference_node_id: 'n1',
      node_payout: '250',
      settlement_txid: 'tx1',
      settled_at: 5_100,
      completed_at: 4_100,
    }),
  ],
  [
    'inference_tasks',
    task('s3', {
      status: 'settled',
      inference_node_id: null,
      node_payout: '7',
      settlement_txid: 'tx1',
      settled_at: 6_500,
      completed_at: 6_000,
      model_type: 'm2',
    }),
  ],
  ['inference_tasks', task('r1', { source: 'direct' })],
  ['inference_tasks', task('r2', { source: 'direct' })],
  [
    'settlements',
    {
      txid: 'tx1',
      kind: 'complete-tasks',
      status: 'confirmed',
      raw: 'x',
      nonce: 1,
      task_ids: '["s1","s2","s3"]',
      item_count: 3,
      created_at: 4_900,
      updated_at: 6_600,
    },
  ],
  [
    'prepaid_periods',
    {
      id: 1,
      root: 'r',
      tasks: 1,
      charged: '8',
      items: JSON.stringify({ items: [{ account: 'acct1' }, { account: 'acct2' }] }),
      status: 'confirmed',
      created_at: 1,
    },
  ],
  [
    'prepaid_periods',
    {
      id: 2,
      root: 'r',
      tasks: 1,
      charged: '8',
      items: JSON.stringify({ items: [{ account: 'acct1' }] }),
      status: 'confirmed',
      created_at: 2,
    },
  ],
  [
    'prepaid_periods',
    {
      id: 3,
      root: 'r',
      tasks: 1,
      charged: '8',
      items: JSON.stringify({ items: [{ account: 'acct3' }] }),
      status: 'built',
      created_at: 3,
    },
  ],
  ['prepaid_receipts', receipt('r3', { created_at: 5 })],
  ['prepaid_receipts', receipt('r2', { status: 'running', request_signature: 'metered', max_fee: '900000000000' })],
  ['prepaid_receipts', receipt('r1', { status: 'running', request: JSON.stringify({ expiry: 2_000 }) })],
  ['prepaid_receipts', receipt('r4', { status: 'paid', fee: '3000000000000', paid_at: 100 })],
  ['prepaid_receipts', receipt('r5', { status: 'paid', account: 'acct2', fee: '12', paid_at: 200 })],
  ['prepaid_receipts', receipt('r7', { status: 'paid', account: 'acct2', fee: '1', paid_at: null })],
  ['prepaid_receipts', receipt('r6', { status: 'settled', fee: '8', paid_at: 300, period_id: 1 })],
  ['inference_logs', { created_at: 61_000, latency_ms: 0, status: 'success', model: 'm1' }],
  ['inference_logs', { created_at: 62_000, latency_ms: 140, status: 'success', model: 'm1' }],
  ['inference_logs', { created_at: 125_000, latency_ms: 3_000, status: 'success', model: 'm1' }],
  ['inference_logs', { created_at: 126_000, latency_ms: 3_000, status: 'rejected', model: 'm1' }],
];

/** ROWS filled once, so both databases get the same values. */
const FILLED = ROWS.map(([table, row]) => [table, filled(table, row)] as const);

/** Writes ROWS through `exec`. */
export async function seed(exec: Exec): Promise<void> {
  for (const [table, r] of FILLED) {
    const cols = Object.keys(r);
    await exec(
      `insert into ${table} (${cols.join(', ')}) values (${cols.map(() => '?').join(', ')})`,
      Object.values(r),
    );
  }
}

/** One statement, its parameters (`?` list or `:name` object), and whether its row order is defined. */
export interface FormCase {
  name: string;
  sql: string;
  params: unknown[];
  ordered: boolean;
  /** The data holds no row for it (the other branch of a case that returns some). */
  empty?: boolean;
  /** It selects an unnamed `1`: SQLite calls the column "1", PostgreSQL "?column?"; the code only asks for a row. */
  unnamed?: boolean;
  /** A write: it runs with each parameter list in turn, then `check` is read and compared. */
  check?: string;
}

/**
 * The SQLite text that contains `fragment` (one only): a key of PG_FORMS, or the `sqlite` side of
 * a statement the code keeps in both dialects' forms.
 */
function form(fragment: string): string {
  const pairs = signerSql().flatMap((l) => (l.postgresSibling ? [l.text] : []));
  const keys = [...new Set([...PG_FORMS.keys(), ...pairs])].filter((k) => k.includes(fragment));
  if (keys.length !== 1) throw new Error(`${keys.length} forms contain ${fragment}`);
  return keys[0]!;
}

const range = { start: 0, size: 60_000, end: 180_000 };

/** A case per form (some forms twice: the parameters that take each branch). */
export const CASES: FormCase[] = [
  {
    name: 'candidates (instr; both forms in the code), plain node',
    sql: form('instr(votes'),
    params: [A, 100, '"node_id":"n1"', 0, 'n1', 10],
    ordered: true,
  },
  {
    name: 'candidates (instr; both forms in the code), trusted node, no tip',
    sql: form('instr(votes'),
    params: [A, -1, '"node_id":"n2"', 1, 'n2', 10],
    ordered: true,
  },
  {
    name: 'small inputs (json_each)',
    sql: form('from input_blobs where sha256 in'),
    params: ['["h1","h2","h3","h9"]', 10],
    ordered: false,
  },
  {
    name: 'settled batch (json_each)',
    sql: form('t.deadline from json_each'),
    params: ['["c1","s2","nope"]'],
    ordered: false,
  },
  { name: 'ready batch (deadline NULLs first)', sql: form('order by deadline asc'), params: [10], ordered: true },
  {
    name: 'paid receipts by paid_at (nullable: NULLs first)',
    sql: form('order by paid_at asc, task_id asc'),
    params: [],
    ordered: true,
  },
  { name: 'due receipts (rowid)', sql: form('rowid asc'), params: ['acct1', 500], ordered: true },
  {
    name: 'receipts in the given order (json_each key)',
    sql: form('order by j.key'),
    params: ['["r4","r1","r3","zz"]'],
    ordered: true,
  },
  {
    name: 'trusted node serves (json_each over a column)',
    sql: form('n.trusted = 1'),
    params: ['artifact-b'],
    ordered: false,
    unnamed: true,
  },
  {
    name: 'no trusted node serves',
    sql: form('n.trusted = 1'),
    params: ['artifact-c'],
    ordered: false,
    empty: true,
    unnamed: true,
  },
  { name: 'expired requests (json_extract)', sql: form("'$.expiry'"), params: [1_000], ordered: false },
  { name: 'waiting spot checks (json_array_length)', sql: WAITING_CHECKS, params: [], ordered: false },
  { name: 'paid volume (numeric sum)', sql: form('as v from prepaid_receipts'), params: ['acct1', 0], ordered: false },
  {
    name: 'paid volume, none (coalesce)',
    sql: form('as v from prepaid_receipts'),
    params: ['nobody', 0],
    ordered: false,
  },
  { name: 'token reserved (numeric sum)', sql: form('sum(cast(max_fee'), params: ['acct1', 'metered'], ordered: false },
  { name: 'due summary (numeric sum)', sql: form('min(paid_at) oldest'), params: [], ordered: false },
  { name: "accounts' last periods (json_each path)", sql: form("'$.items'"), params: [10], ordered: false },
  { name: 'task totals (numeric sum)', sql: TASK_TOTALS_SQL, params: [], ordered: false },
  {
    name: 'earnings by node (cross join on)',
    sql: form('cross join inference_tasks'),
    params: [{ ...range, size: 1_000, end: 7_000 }],
    ordered: false,
  },
  {
    name: 'task latency (greatest, named subquery)',
    sql: form('completed_at - created_at ms'),
    params: [{ ...range, size: 1_000, end: 7_000 }],
    ordered: true,
  },
  { name: 'direct latency (greatest, named subquery)', sql: form('latency_ms ms'), params: [range], ordered: true },
  {
    name: 'sealed input stored twice (insert or replace)',
    sql: form('insert or replace'),
    params: [
      ['h3', 'n2', 'u1', 'c2', 'r2', 7],
      ['h1', 'n1', 'u1', 'c3', 'r3', 8],
    ],
    ordered: true,
    check: 'select * from sealed_inputs order by input_hash, node_id, holder',
  },
  {
    name: 'payee owed added up (upsert reading the row)',
    sql: form('set owed = cast(cast(owed'),
    params: [
      ['p1', '5', 1],
      ['p1', '9007199254740000', 2],
    ],
    ordered: true,
    check: 'select * from payee_credits order by payee',
  },
  {
    name: 'payee credited added up (upsert reading the row)',
    sql: form('set credited = cast(cast(credited'),
    params: [
      ['p2', '3', 1],
      ['p2', '4', 2],
    ],
    ordered: true,
    check: 'select * from payee_credits order by payee',
  },
];
