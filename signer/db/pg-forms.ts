/**
 * PostgreSQL forms of the signer's hand-written SQLite-only statements (issue 15). The facade's
 * translator (pg-translate.ts) looks each SQL text up here before its generic rewrite (`?`/`:name`
 * → `$n`, `cast(… as integer)` → bigint), so a value may still use `?` placeholders.
 *
 * Key: the SQL text exactly as the code prepares it. Value: the PostgreSQL text.
 */
export const PG_FORMS: ReadonlyMap<string, string> = new Map<string, string>([]);
