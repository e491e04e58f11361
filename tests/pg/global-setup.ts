/**
 * globalSetup of the `signer-pg` vitest project: one PostgreSQL server for the whole run, and a
 * template database migrated once, which each test clones (`testDatabaseLocation` in
 * tests/signer/helpers.ts) instead of migrating a database of its own.
 */
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migratePostgres } from '../../signer/db/pg-migrate.js';
import { startPostgres } from './server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the run's server (its `postgres` database), for creating and dropping test databases. */
    pgUrl: string;
  }
}

/** The migrated database every test database is cloned from. */
export const TEMPLATE_DATABASE = 'signer_tpl';

/** Starts the server, migrates the template, provides `pgUrl`; the returned teardown stops the server. */
export default async function setup(project: TestProject): Promise<() => void> {
  const server = await startPostgres();
  try {
    await server.createDatabase(TEMPLATE_DATABASE);
    const client = new pg.Client({ connectionString: server.url(TEMPLATE_DATABASE) });
    await client.connect();
    try {
      await migratePostgres(client);
    } finally {
      await client.end();
    }
    // A clone fails while anyone is connected to its template: let no one connect by mistake.
    const admin = new pg.Client({ connectionString: server.url() });
    await admin.connect();
    await admin.query(`alter database ${TEMPLATE_DATABASE} with allow_connections false`);
    await admin.end();
  } catch (err) {
    server.stop();
    throw err;
  }
  project.provide('pgUrl', server.url());
  return () => server.stop();
}
