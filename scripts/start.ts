/**
 * `npm start`: the whole marketplace on this machine. Starts the devnet, the signer and one node
 * agent (each its own process, logs in data/logs/), publishes the bundled classifier on chain,
 * prints where everything is, the keys of the admin, signer and treasury, and the command that
 * submits a first task. Ctrl-C stops all three; the next `npm start` resumes the same chain and
 * database from data/.
 */
import { privateKeyToAddress } from '@stacks/transactions';
import { join } from 'node:path';
import { DEFAULT_DATA_DIR, DEMO_MODEL, DEMO_PRICE, devAccountKeys, startMarketplace, writeExampleInput } from './lib/marketplace.js';
import { readSetupToken, SETUP_TOKEN_FILE } from '../signer/console/setup.js';

const devnetPort = Number(process.env.DEVNET_PORT ?? 3999);
const signerPort = Number(process.env.SIGNER_PORT ?? 8080);

console.log('starting the devnet, the signer and a node agent (logs in data/logs/) ...');
const m = await startMarketplace({ dataDir: DEFAULT_DATA_DIR, devnetPort, signerPort }).catch((e: Error) => {
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
  node agent  node-1 ${m.nodeAddress('node-1')}, bonded in the escrow, serving the PP-OCR classifier
              (key data/node-1.key; npm run node-agent -- status --key data/node-1.key)

  model "${DEMO_MODEL}" is live on chain at ${DEMO_PRICE} µSTX per call (owner wallet_7 ${account('wallet_7')})

  roles on chain, one key each:
    admin     ${m.roles.admin.address}  (${m.roles.admin.source}: deployed the contracts, sets signer and treasury)
    signer    ${m.roles.signer.address}  (${m.roles.signer.source}: settles results)
    treasury  ${m.roles.treasury.address}  (${m.roles.treasury.source}: paid its share of each fee)

  funded dev accounts (Clarinet's public keys: never use them on a real network):
${[...keys.keys()].map((n) => `    ${n.padEnd(9)} ${account(n)}  key ${keys.get(n)}`).join('\n')}

  submit a first task (from wallet_1), in another terminal:
    MARKET_PRIVATE_KEY=${keys.get('wallet_1')} npm run market -- submit --model ${DEMO_MODEL} --input ${input}

  or watch a stream of tasks settle:  npm run demo
  Ctrl-C stops everything; npm start again resumes the same chain and database.
`);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the node agent, the signer and the devnet ...`);
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
