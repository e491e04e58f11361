/**
 * The contracts' error codes, read from their Clarity source so that TypeScript never holds a
 * second copy: every `(define-constant ERR_X (err uN))` line becomes `ERR_X: N`.
 */
import { readFileSync } from 'node:fs';

/** Error name -> code, as declared in one contract. */
export type ErrorTable = Readonly<Record<string, number>>;

/** Parses the `(define-constant ERR_X (err uN))` lines of a Clarity source. */
export function parseErrorConstants(source: string): ErrorTable {
  const table: Record<string, number> = {};
  for (const m of source.matchAll(/^\(define-constant\s+(ERR_[A-Z0-9_]+)\s+\(err\s+u(\d+)\)\)/gm)) {
    table[m[1]] = Number(m[2]);
  }
  return Object.freeze(table);
}

function load(file: string): ErrorTable {
  return parseErrorConstants(readFileSync(new URL(`../../contracts/${file}`, import.meta.url), 'utf8'));
}

/** model-registry's errors (u1000-u1099), e.g. `registryErrors.ERR_NOT_OWNER`. */
export const registryErrors = load('model-registry.clar');
/** inference-escrow's errors (u2000-u2099), e.g. `escrowErrors.ERR_DEADLINE_PASSED`. */
export const escrowErrors = load('inference-escrow.clar');

/** The name of an error code of either contract (`ERR_...`), or `unknown error uN`. */
export function errorName(code: number | bigint): string {
  const n = Number(code);
  for (const table of [escrowErrors, registryErrors]) {
    for (const [name, value] of Object.entries(table)) if (value === n) return name;
  }
  return `unknown error u${n}`;
}
