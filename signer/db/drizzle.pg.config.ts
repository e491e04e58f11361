/**
 * drizzle-kit for PostgreSQL: `npx drizzle-kit generate --config signer/db/drizzle.pg.config.ts`
 * writes migrations-pg from the tables pg-schema.ts derives from the SQLite ones. `npm run
 * db:generate` runs both dialects' generate, so a schema change always makes both migrations.
 */
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './signer/db/pg-schema.ts',
  out: './signer/db/migrations-pg',
});
