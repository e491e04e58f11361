/**
 * `npm run devnet [-- --port N --data-dir DIR --block-time MS --idle-block MS --manifest FILE --config FILE --reset]`: starts the
 * devnet, prints its URL and the funded dev accounts, and runs until SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { startDevnet, loadDevnetConfig } from './index.js';

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: 'config/devnet.toml' },
    port: { type: 'string' },
    host: { type: 'string' },
    'data-dir': { type: 'string' },
    'block-time': { type: 'string' },
    'idle-block': { type: 'string' },
    manifest: { type: 'string' },
    reset: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(
    'usage: npm run devnet -- [--port N] [--host H] [--data-dir DIR] [--block-time MS] [--idle-block MS] [--manifest Clarinet.toml] [--config FILE] [--reset]',
  );
  process.exit(0);
}

try {
  const cfg = loadDevnetConfig(values.config, {
    port: values.port,
    host: values.host,
    data_dir: values['data-dir'],
    block_time_ms: values['block-time'],
    idle_block_ms: values['idle-block'],
    manifest: values.manifest,
  });
  const devnet = await startDevnet({
    dataDir: cfg.data_dir,
    port: cfg.port,
    host: cfg.host,
    blockTimeMs: cfg.block_time_ms,
    maxBlockTxs: cfg.max_block_txs,
    idleBlockMs: cfg.idle_block_ms,
    manifestPath: cfg.manifest,
    reset: values.reset,
  });
  const mode =
    cfg.block_time_ms > 0
      ? `a block every ${cfg.block_time_ms} ms`
      : `a block per transaction${cfg.idle_block_ms > 0 ? `, and an empty one after ${cfg.idle_block_ms} ms without` : ''}`;
  console.log(`devnet listening on ${devnet.url} (chain id 0x80000000, testnet addresses, ${mode})`);
  console.log(
    `log: ${cfg.data_dir}/devnet.db; genesis ${devnet.replay.genesisMs} ms, replayed ${devnet.replay.txs} transactions in ${devnet.replay.blocks} blocks (${devnet.replay.ms} ms)`,
  );
  console.log('funded dev accounts (public Clarinet keys: never use them on a real network):');
  for (const a of devnet.accounts)
    console.log(`  ${a.name.padEnd(9)} ${a.address}  ${a.balance} uSTX${a.secretKey ? `  key ${a.secretKey}` : ''}`);
  const stop = () => void devnet.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (err) {
  console.error(`devnet: ${(err as Error).message}`);
  process.exit(1);
}
