/** drizzle-kit: `npx drizzle-kit generate --config signer/db/drizzle.config.ts` writes migrations. */
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './signer/db/tables/index.ts',
  out: './signer/db/migrations',
});
