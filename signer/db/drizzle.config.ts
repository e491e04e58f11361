/** drizzle-kit for SQLite: `npm run db:generate` writes migrations for it and for PostgreSQL (drizzle.pg.config.ts). */
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './signer/db/tables/index.ts',
  out: './signer/db/migrations',
});
