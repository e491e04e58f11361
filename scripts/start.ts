/**
 * `npm start`: the whole marketplace on this machine. Starts the devnet, the signer and three node
 * agents (each its own process, logs in data/logs/; NODE_AGENTS sets how many), so that tasks of
 * security level 3 and spot checks have distinct nodes to run on; publishes the bundled classifier on chain,
 * prints where everything is, the keys of the admin, signer and treasury, and the command that
 * submits a first task. Ctrl-C stops all three; the next `npm start` resumes the same chain and
 * database from data/.
 */
import { join } from 'node:path';
import { privateKeyToAddress } from '@stacks/transactions';
import { readSetupToken, SETUP_TOKEN_FILE } from '../signer/console/setup.js';
import { DEFAULT_DATA_DIR, DEMO_MODEL, DEMO_PRICE, devAccountKeys, startMarketplace, writeExampleInput } from './lib/marketplace.js';

const devnetPort = Number(process.env.DEVNET_PORT ?? 3999);
const signerPort = Number(process.env.SIGNER_PORT ?? 8080);
const agents = Number(process.env.NODE_AGENTS ?? 3);
// As a real chain does, blocks come on an idle chain too (an empty one after 5 s without), so
// deadlines (market reclaim) and prepaid withdrawal windows pass without anyone sending transactions.
const idleBlockMs = Number(process.env.DEVNET_IDLE_BLOCK_MS ?? 5000);
if (!Number.isInteger(agents) || agents < 1) {
  console.error(`npm start: NODE_AGENTS must be a whole number of at least 1, got "${process.env.NODE_AGENTS}"`);
  process.exit(1);
}

console.log(`starting the devnet, the signer and ${agents} node agent${agents > 1 ? 's' : ''} (logs in data/logs/) ...`);
const m = await startMarketplace({ dataDir: DEFAULT_DATA_DIR, devnetPort, signerPort, agents, devnetIdleBlockMs: idleBlockMs }).catch((e: Error) => {
  console.error(`npm start: ${e.message}`);
  process.exit(1);
});
const input = writeExampleInput(m.dataDir);
const keys = devAccountKeys();
const account = (name: string) => privateKeyToAddress(keys.get(name)!, 'testnet');
// Until the admin exists, the console opens only with the one-time token the signer wrote in data/.
const setupToken = readSetupToken(join(m.dataDir, SETUP_TOKEN_FILE));
const consoleLine = setupToken
  ? `${m.signerUrl}/console/init?token=${setupToken}
              (operator console: open this link to set the admin password; the token works once)`
  : `${m.signerUrl}/console  (operator console: log in as the admin)`;

console.log(`
  signer      ${m.signerUrl}          (API docs ${m.signerUrl}/docs, stats ${m.signerUrl}/api/v1/stats)
  dashboard   ${consoleLine}
  devnet      ${m.devnetUrl}          (Stacks node + API; chain state in data/devnet/)
  node agents, each bonded in the escrow and serving the PP-OCR classifier:
${m.agents.map((a) => `              ${a.name} ${m.nodeAddress(a.name)}  (key data/${a.name}.key)`).join('\n')}
              (a bond: npm run node-agent -- status --key data/node-1.key)

  model "${DEMO_MODEL}" is live on chain at ${DEMO_PRICE} µSTX per call (owner wallet_7 ${account('wallet_7')})

  roles on chain, one key each:
    admin     ${m.roles.admin.address}  (${m.roles.admin.source}: deployed the contracts, sets signer and treasury)
    signer    ${m.roles.signer.address}  (${m.roles.signer.source}: settles results)
    treasury  ${m.roles.treasury.address}  (${m.roles.treasury.source}: paid its share of each fee)

  funded dev accounts (Clarinet's public keys: never use them on a real network):
${[...keys.keys()].map((n) => `    ${n.padEnd(9)} ${account(n)}  key ${keys.get(n)}`).join('\n')}

  submit a first task (from wallet_1), in another terminal:
    MARKET_PRIVATE_KEY=${keys.get('wallet_1')} npm run market -- submit --model ${DEMO_MODEL} --input ${input}
${agents >= 3 ? `  or one that three nodes must agree on (security level 3, fee ${DEMO_PRICE * 3n} µSTX):
    MARKET_PRIVATE_KEY=${keys.get('wallet_1')} npm run market -- submit --model ${DEMO_MODEL} --input ${input} --security 3
` : ''}
  or watch a stream of tasks settle:  npm run demo
  Ctrl-C stops everything; npm start again resumes the same chain and database.
`);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the node agents, the signer and the devnet ...`);
  await m.stop();
  console.log('stopped.');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
for (const s of [m.devnet, m.signer, ...m.agents]) {
  void s.exited.then((code) => {
    if (!stopping) {
      console.error(`${s.name} exited unexpectedly (${code}); see data/logs/${s.name}.log. Stopping the rest.`);
      void shutdown('exit');
    }
  });
}
