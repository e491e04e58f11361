/**
 * `signer run [--config FILE] [--database FILE|postgres://URL] [--api-port N] [--api-host HOST] [--debug]`:
 * the seed service's command line. Stops cleanly on SIGINT/SIGTERM.
 * `signer db copy --from FILE --to postgres://…`: copies a SQLite database into an empty PostgreSQL one.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, startSigner } from './index.js';

const USAGE = `usage: signer run [--config config/signer.toml] [--database ./data/inference.db | postgres://user@host/db] [--api-port 8080] [--api-host 127.0.0.1] [--debug]
       signer db copy --from ./data/inference.db --to postgres://user:password@host:5432/signer`;

const parse = (argv: string[]) =>
  parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      database: { type: 'string' },
      'api-port': { type: 'string' },
      'api-host': { type: 'string' },
      debug: { type: 'boolean', default: false },
      from: { type: 'string' },
      to: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (!values.help && positionals[0] === 'db') return dbCommand(positionals.slice(1), values.from, values.to);
  // The seed's subcommand name is accepted as an alias.
  if (values.help || positionals.length !== 1 || !['run', 'run-inference-service'].includes(positionals[0])) {
    (values.help ? console.log : console.error)(USAGE);
    return values.help ? 0 : 2;
  }
  const port = values['api-port'];
  if (port !== undefined && !/^\d{1,5}$/.test(port)) {
    console.error(`--api-port must be a port number 0..65535, got "${port}"`);
    return 2;
  }
  try {
    const config = loadConfig(values.config, {
      database: values.database,
      apiPort: port === undefined ? undefined : Number(port),
      apiHost: values['api-host'],
      debug: values.debug,
    });
    const signer = await startSigner({ config });
    console.log(`signer listening on ${signer.url}`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await signer.close();
    return 0;
  } catch (e) {
    console.error(e instanceof ConfigError ? e.message : `signer failed to start: ${(e as Error).message}`);
    return 1;
  }
}

/** `signer db copy`: prints rows per table; never the target's password. */
async function dbCommand(args: string[], from: string | undefined, to: string | undefined): Promise<number> {
  if (args.length !== 1 || args[0] !== 'copy' || !from || !to) {
    console.error(USAGE);
    return 2;
  }
  if (!/^postgres(ql)?:\/\//.test(to)) {
    console.error('--to must be a postgres:// or postgresql:// URL');
    return 2;
  }
  // Loaded here only: `signer run` needs none of it.
  const { CopyError, copyDatabase, redactUrl } = await import('./db/copy.js');
  try {
    const report = await copyDatabase(from, to);
    const width = Math.max(...report.map((r) => r.table.length));
    console.log(`copied ${from} to ${redactUrl(to)}; rows per table (equal on both sides):`);
    for (const { table, rows } of report) console.log(`  ${table.padEnd(width)}  ${rows}`);
    return 0;
  } catch (e) {
    // No message of ours carries the URL's password; a driver's might one day.
    const password = decodeURIComponent(new URL(to).password);
    const message = password ? (e as Error).message.replaceAll(password, '***') : (e as Error).message;
    console.error(e instanceof CopyError ? message : `signer db copy failed: ${message}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
