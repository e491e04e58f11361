/**
 * The SQL the signer writes by hand, read from its source with TypeScript's parser (not a regex,
 * so comments and quotes inside strings cannot mislead it), and the SQLite-only tokens a
 * statement must not send to PostgreSQL without a form in signer/db/pg-forms.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { is } from 'drizzle-orm';
import { getTableConfig, SQLiteTable } from 'drizzle-orm/sqlite-core';
import ts from 'typescript';
import * as tables from '../../signer/db/tables/index.js';

/** One SQL text in the code. */
export interface SqlLiteral {
  /** file:line, relative to the repository. */
  at: string;
  /** The text; for a template with `${…}` holes, its parts joined by nothing. */
  text: string;
  /** For a template with holes: matches every text it can make (a hole matches anything). */
  pattern: RegExp | null;
  /**
   * The literal beside it when the code keeps both dialects' forms side by side (an object
   * literal with `sqlite` and `postgres` properties, switched on `store.dialect`); else null.
   */
  postgresSibling: string | null;
}

/** True when a `from (select …)` (or `, (select …)`) is followed by no name. */
function unnamedSubquery(sql: string): boolean {
  for (const m of sql.matchAll(/(\bfrom|,)\s*\(\s*select\b/gi)) {
    let depth = 0;
    let i = m.index + m[0].indexOf('(');
    for (; i < sql.length; i++) {
      if (sql[i] === '(') depth++;
      else if (sql[i] === ')' && --depth === 0) break;
    }
    const after = sql.slice(i + 1);
    if (/^\s*($|\)|,|(where|group|order|limit|join|left|inner|cross|on|union)\b)/i.test(after)) return true;
  }
  return false;
}

/** Words an upsert's SET may hold besides columns. */
const SQL_WORDS = new Set(
  'cast as integer bigint numeric text real null case when then else end and or not is in coalesce max min abs'.split(
    ' ',
  ),
);

/** True when an upsert's `do update set` reads a column unqualified (SQLite: the existing row; PostgreSQL: ambiguous). */
function bareColumnInUpsert(sql: string): boolean {
  const set = /\bdo\s+update\s+set\b([\s\S]*?)(\bwhere\b|\breturning\b|$)/i.exec(sql)?.[1];
  if (!set) return false;
  return set.split(',').some((assignment) => {
    const rhs = assignment.slice(assignment.indexOf('=') + 1);
    const words = rhs
      .replace(/'[^']*'/g, '')
      .replace(/\b\w+\s*\.\s*\w+/g, '')
      .replace(/\b\w+\s*\(/g, '(')
      .match(/\b[a-z_]\w*\b/gi);
    return (words ?? []).some((w) => !SQL_WORDS.has(w.toLowerCase()));
  });
}

/** Nullable columns by table name, from the sqlite-core tables. */
const NULLABLE = new Map(
  Object.values(tables).flatMap((t: unknown) => {
    if (!is(t, SQLiteTable)) return [];
    const c = getTableConfig(t);
    return [[c.name, new Set(c.columns.filter((col) => !col.notNull).map((col) => col.name))] as const];
  }),
);

/**
 * True when an ORDER BY term is a nullable column with no `nulls first|last`: SQLite puts NULLs
 * first going up and last going down, PostgreSQL the other way round. A column the statement
 * requires `is not null` is not counted.
 */
function nullableOrder(sql: string): boolean {
  const from = new Map<string, string>();
  for (const m of sql.matchAll(
    /\b(?:from|join)\s+(\w+)(?:\s+(?:as\s+)?(?!where|on|join|left|inner|cross|group|order|limit)(\w+))?/gi,
  )) {
    if (NULLABLE.has(m[1]!)) from.set(m[2] ?? m[1]!, m[1]!).set(m[1]!, m[1]!);
  }
  for (const clause of sql.matchAll(/\border\s+by\s+([\s\S]*?)(?=\blimit\b|\)|\bfor\b|$)/gi)) {
    for (const term of clause[1]!.split(',')) {
      const t = /^\s*(?:(\w+)\.)?(\w+)(?:\s+(?:asc|desc))?\s*(nulls\s+(?:first|last))?\s*$/i.exec(term);
      if (!t || t[3] || new RegExp(`\\b${t[2]}\\s+is\\s+not\\s+null`, 'i').test(sql)) continue;
      const tables = t[1] ? [from.get(t[1])] : [...new Set(from.values())];
      if (tables.some((name) => name && NULLABLE.get(name)!.has(t[2]!))) return true;
    }
  }
  return false;
}

/** What a SQLite-only token is, and why PostgreSQL needs another form. */
export const SQLITE_ONLY: [{ test(sql: string): boolean }, string][] = [
  [/\bjson_(each|tree)\s*\(/i, 'json_each/json_tree (PostgreSQL: json_array_elements[_text])'],
  [/\bjson_extract\s*\(/i, 'json_extract (PostgreSQL: ->> on json)'],
  [/\bjson_array_length\s*\(\s*[\w.]+\s*\)/i, 'json_array_length over text (PostgreSQL wants json)'],
  [
    /\bjson_(group_array|group_object|object|array|insert|replace|set|remove|type|valid|quote)\s*\(/i,
    'SQLite JSON function',
  ],
  [/\binstr\s*\(/i, 'instr (PostgreSQL: strpos)'],
  [/\binsert\s+or\s+(replace|ignore|abort|fail|rollback)\b/i, 'insert or … (PostgreSQL: on conflict)'],
  [/^\s*replace\s+into\b/i, 'replace into (PostgreSQL: on conflict)'],
  [/\b(_?rowid_?|oid)\b/i, 'rowid (PostgreSQL has none: use the primary key)'],
  [/\bgroup_concat\s*\(/i, 'group_concat (PostgreSQL: string_agg)'],
  [/\b(ifnull|iif)\s*\(/i, 'ifnull/iif (PostgreSQL: coalesce/case)'],
  [/\b(strftime|julianday|datetime|date|time|unixepoch)\s*\(/i, 'SQLite date function'],
  [/\blimit\s+-\s*1\b/i, 'limit -1 (PostgreSQL: no limit)'],
  [/\b(max|min)\s*\((?:[^(),]|\([^()]*\))*,/i, 'scalar max/min of several values (PostgreSQL: greatest/least)'],
  [
    /\b(sum|total|avg)\s*\(\s*(case\b[\s\S]*?\bthen\s+)?cast\s*\([^()]*\bas\s+integer\s*\)/i,
    'sum over text cast to integer (PostgreSQL: numeric)',
  ],
  [/\bcross\s+join\s+\w+(\s+(as\s+)?\w+)?\s+on\b/i, 'cross join … on (PostgreSQL: join … on)'],
  [{ test: bareColumnInUpsert }, 'a bare column in an upsert SET (ambiguous in PostgreSQL: name its table)'],
  [{ test: unnamedSubquery }, 'subquery in FROM without a name (PostgreSQL 15 wants one)'],
  [
    { test: nullableOrder },
    'order by a nullable column (NULLs sort first in SQLite, last in PostgreSQL): say nulls first|last',
  ],
  [/\b(glob|regexp)\b/i, 'glob/regexp'],
  [/\blike\b/i, 'like (case-insensitive in SQLite, case-sensitive in PostgreSQL)'],
  [/\bcollate\s+nocase\b/i, 'collate nocase'],
  [/\bas\s+real\s*\)/i, 'cast as real (4 bytes in PostgreSQL: double precision)'],
  [/\b(typeof|printf|randomblob|last_insert_rowid|changes|total_changes)\s*\(/i, 'SQLite-only function'],
  [
    /\bis\s+(not\s+)?(?!null\b|true\b|false\b|distinct\b|not\b)[?:'\w]/i,
    'is between values (PostgreSQL: is not distinct from)',
  ],
];

/** The SQLite-only tokens in `sql` (their explanations). */
export function sqliteOnlyTokens(sql: string): string[] {
  return SQLITE_ONLY.filter(([re]) => re.test(sql)).map(([, why]) => why);
}

const SQL_START = /^\s*(select|insert|update|delete|with|replace)\b/;

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name.startsWith('migrations') ? [] : tsFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The literal that is the `postgres` property beside a `sqlite` one, if `node` is that `sqlite` value. */
function siblingOf(node: ts.Node): string | null {
  const prop = node.parent;
  if (!ts.isPropertyAssignment(prop) || prop.name.getText() !== 'sqlite') return null;
  const pgProp = (prop.parent as ts.ObjectLiteralExpression).properties.find((p) => p.name?.getText() === 'postgres');
  if (!pgProp || !ts.isPropertyAssignment(pgProp)) return null;
  const init = pgProp.initializer;
  return ts.isStringLiteral(init) || ts.isNoSubstitutionTemplateLiteral(init) ? init.text : '';
}

/**
 * Every SQL text in signer/**\/*.ts but the migrations and pg-forms.ts itself: string and template
 * literals that start like a statement, and drizzle `sql\`…\`` templates.
 */
export function sqlLiterals(root: string): SqlLiteral[] {
  const out: SqlLiteral[] = [];
  for (const file of tsFiles(join(root, 'signer'))) {
    if (file.endsWith('pg-forms.ts')) continue;
    const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node) => {
      let parts: string[] | null = null;
      if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) parts = [node.text];
      else if (ts.isTemplateExpression(node))
        parts = [node.head.text, ...node.templateSpans.map((s) => s.literal.text)];
      if (parts) {
        const tagged = ts.isTaggedTemplateExpression(node.parent) && node.parent.tag.getText() === 'sql';
        if (tagged || SQL_START.test(parts[0]!)) {
          const line = src.getLineAndCharacterOfPosition(node.getStart()).line + 1;
          out.push({
            at: `${relative(root, file)}:${line}`,
            text: parts.join(''),
            pattern: parts.length > 1 ? new RegExp(`^${parts.map(escapeRegExp).join('[\\s\\S]*?')}$`) : null,
            postgresSibling: siblingOf(node),
          });
        }
        return;
      }
      ts.forEachChild(node, visit);
    };
    visit(src);
  }
  return out;
}

let inRepo: SqlLiteral[] | null = null;

/** sqlLiterals of this repository, read once per test file. */
export function signerSql(): SqlLiteral[] {
  inRepo ??= sqlLiterals(fileURLToPath(new URL('../..', import.meta.url)));
  return inRepo;
}

/** Whether `key` (an exact statement text) is what `lit` makes. */
export function makes(lit: SqlLiteral, key: string): boolean {
  return lit.pattern ? lit.pattern.test(key) : lit.text === key;
}
