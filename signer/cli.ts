/**
 * `signer run [--config FILE] [--database FILE] [--api-port N] [--api-host HOST] [--debug]`:
 * the seed service's command line. Stops cleanly on SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, startSigner } from './index.js';

const USAGE = `usage: signer run [--config config/signer.toml] [--database ./data/inference.db] [--api-port 8080] [--api-host 127.0.0.1] [--debug]`;

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

process.exitCode = await main(process.argv.slice(2));
