/**
 * SQLite SQL text → PostgreSQL SQL text, for the synchronous PostgreSQL facade (./pg-sync.ts).
 * A statement the code writes in a SQLite-only form has its PostgreSQL form in PG_FORMS (looked
 * up by exact text); then every text gets the generic rewrite: `?`, `:name` and `@name` placeholders
 * become `$n` (outside quoted strings, quoted identifiers and comments; `::type` casts are kept),
 * and `cast(… as integer)` becomes `cast(… as bigint)` (SQLite's integer is 64-bit, PostgreSQL's
 * is 32-bit: ms timestamps and micro-STX amounts overflow it); drizzle's table-qualified conflict
 * targets lose their table name. Results are cached per text: the
 * same few hundred texts are translated once per process.
 */
import { PG_FORMS } from './pg-forms.js';

/** A translated statement: its PostgreSQL text, and the names of its `:name`/`@name` parameters in `$n` order. */
export interface Translated {
  text: string;
  /** Named parameters by position (`$1` = names[0]); null when the statement uses `?` (or none). */
  names: string[] | null;
}

const cache = new Map<string, Translated>();

/** `cast(x as integer)` (any case and spacing) → `cast(x as bigint)`; `x` itself is not looked at. */
const CAST_INTEGER = /\bas(\s+)integer(\s*)\)/gi;

/** drizzle's sqlite conflict target names columns with their table (`on conflict ("t"."id")`): PostgreSQL refuses that. */
const CONFLICT_TARGET = /\bon conflict \(([^)]*)\)/gi;
const QUALIFIED = /"(?:[^"]|"")+"\./g;

/** The PostgreSQL form of a SQLite statement text, cached. */
export function translate(sql: string): Translated {
  let t = cache.get(sql);
  if (!t) {
    const src = PG_FORMS.get(sql) ?? sql;
    t = rewrite(src.replace(CONFLICT_TARGET, (clause) => clause.replace(QUALIFIED, '')));
    cache.set(sql, t);
  }
  return t;
}

/** Rewrites placeholders and integer casts of one text (no cache). */
export function rewrite(src: string): Translated {
  let out = '';
  let n = 0;
  let names: string[] | null = null;
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === "'" || c === '"') {
      // A quoted string or identifier; a doubled quote inside it is an escaped quote.
      let j = i + 1;
      while (j < src.length && !(src[j] === c && src[j + 1] !== c)) j += src[j] === c ? 2 : 1;
      out += src.slice(i, j + 1);
      i = j + 1;
    } else if (c === '-' && src[i + 1] === '-') {
      const j = src.indexOf('\n', i);
      const end = j < 0 ? src.length : j;
      out += src.slice(i, end);
      i = end;
    } else if (c === '/' && src[i + 1] === '*') {
      const j = src.indexOf('*/', i + 2);
      const end = j < 0 ? src.length : j + 2;
      out += src.slice(i, end);
      i = end;
    } else if (c === '?') {
      out += `$${++n}`;
      i++;
    } else if (c === ':' && src[i + 1] === ':') {
      out += '::';
      i += 2;
    } else if ((c === ':' || c === '@') && /[A-Za-z_]/.test(src[i + 1] ?? '')) {
      let j = i + 1;
      while (j < src.length && /\w/.test(src[j]!)) j++;
      const name = src.slice(i + 1, j);
      names ??= [];
      let at = names.indexOf(name);
      if (at < 0) at = names.push(name) - 1;
      out += `$${at + 1}`;
      i = j;
    } else {
      // Copy the run up to the next character that may start something above.
      let j = i + 1;
      while (j < src.length && !'\'"-/?:@'.includes(src[j]!)) j++;
      out += castsToBigint(src.slice(i, j));
      i = j;
    }
  }
  return { text: out, names };
}

function castsToBigint(chunk: string): string {
  return chunk.replace(CAST_INTEGER, 'as$1bigint$2)');
}
