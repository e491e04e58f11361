/**
 * `npm start`: the whole marketplace on this machine. Starts the devnet, the signer and three node
 * agents (each its own process, logs in data/logs/; NODE_AGENTS sets how many), so that tasks of
 * security level 3 and spot checks have distinct nodes to run on; publishes the bundled classifier on chain,
 * prints where everything is, the keys of the admin, signer and treasury, and the command that
 * submits a first task. Ctrl-C stops all three; the next `npm start` resumes the same chain and
 * database from data/ (MARKETPLACE_DATA_DIR). DEVNET_PORT and SIGNER_PORT choose other ports: the
 * marketplace is described in data/marketplace.json while it runs, where `market` and `npm run demo`
 * find it, so the commands printed here work as printed.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { privateKeyToAddress } from '@stacks/transactions';
import { readSetupToken, SETUP_TOKEN_FILE } from '../signer/console/setup.js';
import {
  findRunningMarketplace,
  marketplaceDataDir,
  removeRunningMarketplace,
  writeRunningMarketplace,
} from '../protocol/config/index.js';
import { LOCAL_API_URL } from '../protocol/chain/index.js';
import {
  DEFAULT_DATA_DIR,
  DEMO_MODEL,
  DEMO_PRICE,
  devAccountKeys,
  startMarketplace,
  writeExampleInput,
} from './lib/marketplace.js';

/** A port from the environment, or the default; anything else stops here, naming the variable. */
function portFromEnv(name: string, fallback: number): number {
  const text = process.env[name];
  const port = Number(text || fallback);
  if (Number.isInteger(port) && port >= 1 && port <= 65535) return port;
  console.error(`npm start: ${name} must be a port number from 1 to 65535, got "${text}"`);
  process.exit(1);
}
const devnetPort = portFromEnv('DEVNET_PORT', 3999);
const signerPort = portFromEnv('SIGNER_PORT', 8080);
const agents = Number(process.env.NODE_AGENTS ?? 3);
// As a real chain does, blocks come on an idle chain too (an empty one after 5 s without), so
// deadlines (market reclaim) and prepaid withdrawal windows pass without anyone sending transactions.
const idleBlockMs = Number(process.env.DEVNET_IDLE_BLOCK_MS ?? 5000);
if (!Number.isInteger(agents) || agents < 1) {
  console.error(`npm start: NODE_AGENTS must be a whole number of at least 1, got "${process.env.NODE_AGENTS}"`);
  process.exit(1);
}

const dataDir = marketplaceDataDir();
// Paths as the user would type them from the repository (where npm runs).
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') ? path : rel;
}
/** Whether `pid` is a live `npm start` (on Linux its command line names scripts/start; elsewhere any live process counts). */
function isStart(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const cmdline = `/proc/${pid}/cmdline`;
  if (!existsSync('/proc/self/cmdline')) return true;
  try {
    return readFileSync(cmdline, 'utf8').includes('scripts/start');
  } catch {
    return false;
  }
}

/**
 * Takes the data directory for this process (`npm-start.pid` in it, created exclusively and removed
 * on exit), or stops here naming the npm start that has it: two starts on one data directory share
 * the devnet's chain file, the signer's database and the logs. Seen: the second devnet replayed the
 * first's chain file, its mining stopped on a height the first had written ("UNIQUE constraint
 * failed: blocks.height"), and the second npm start hung while starting.
 */
async function takeDataDir(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, 'npm-start.pid');
  const refuse = async (pid: number): Promise<never> => {
    const running = await findRunningMarketplace(dir);
    const where = running.found
      ? `: signer ${running.found.signer_url}, devnet ${running.found.devnet_url}`
      : ' (still starting up)';
    console.error(
      `npm start: another npm start (pid ${pid}) is running from ${shown(dir)}${where}.
  Use it: npm run market and npm run demo find it. Or stop it (Ctrl-C in its terminal), or run a
  second marketplace from another directory: MARKETPLACE_DATA_DIR=<dir> DEVNET_PORT=<port> SIGNER_PORT=<port> npm start`,
    );
    process.exit(1);
  };
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
    }
    const holder = Number(readFileSync(lock, 'utf8').trim());
    if (Number.isInteger(holder) && holder > 0 && isStart(holder)) await refuse(holder);
    // Left by a start that was killed: it is ours now.
    rmSync(lock, { force: true });
  }
  process.on('exit', () => {
    try {
      if (readFileSync(lock, 'utf8').trim() === String(process.pid)) rmSync(lock);
    } catch {
      // Already gone.
    }
  });
  // A marketplace started before this lock existed describes itself only in marketplace.json.
  const running = await findRunningMarketplace(dir);
  if (running.found && running.found.pid !== process.pid) await refuse(running.found.pid);
}
await takeDataDir(dataDir);

console.log(
  `starting the devnet, the signer and ${agents} node agent${agents > 1 ? 's' : ''} (logs in ${shown(join(dataDir, 'logs'))}/) ...`,
);
// A signal while it starts (a minute or so) must not end this process before the services it has
// spawned: node's default would exit at once and leave the devnet and the signer running. The
// services started so far come up, then stop (startMarketplace stops them itself when one fails).
let stopRequested: string | null = null;
const duringStartup = (signal: string) => {
  if (stopRequested) return;
  stopRequested = signal;
  console.log(`\n${signal}: stopping once the services started so far answer ...`);
};
process.on('SIGINT', duringStartup);
process.on('SIGTERM', duringStartup);
const m = await startMarketplace({ dataDir, devnetPort, signerPort, agents, devnetIdleBlockMs: idleBlockMs }).catch(
  (e: Error) => {
    if (stopRequested) console.log('stopped.');
    else console.error(`npm start: ${e.message}`);
    process.exit(stopRequested ? 0 : 1);
  },
);
process.off('SIGINT', duringStartup);
process.off('SIGTERM', duringStartup);
if (stopRequested) {
  await m.stop();
  console.log('stopped.');
  process.exit(0);
}
const input = shown(writeExampleInput(m.dataDir));
const file = writeRunningMarketplace({
  devnet_url: m.devnetUrl,
  signer_url: m.signerUrl,
  pid: process.pid,
  contracts_address: m.roles.admin.address,
  data_dir: m.dataDir,
  started_at: new Date().toISOString(),
});
// `market` and `npm run demo` find this marketplace in data/marketplace.json; elsewhere they are told where.
const envPrefix = m.dataDir === DEFAULT_DATA_DIR ? '' : `MARKETPLACE_DATA_DIR=${m.dataDir} `;
const stacksApi = m.devnetUrl === LOCAL_API_URL ? '' : ` --stacks-api ${m.devnetUrl}`;
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
  devnet      ${m.devnetUrl}          (Stacks node + API; chain state in ${shown(join(m.dataDir, 'devnet'))}/)
  node agents, each bonded in the escrow and serving the PP-OCR classifier:
${m.agents.map((a) => `              ${a.name} ${m.nodeAddress(a.name)}  (key ${shown(join(m.dataDir, `${a.name}.key`))})`).join('\n')}
              (a bond: npm run node-agent -- status --key ${shown(join(m.dataDir, 'node-1.key'))}${stacksApi})

  model "${DEMO_MODEL}" is live on chain at ${DEMO_PRICE} µSTX per call (owner wallet_7 ${account('wallet_7')})

  roles on chain, one key each:
    admin     ${m.roles.admin.address}  (${m.roles.admin.source}: deployed the contracts, sets signer and treasury)
    signer    ${m.roles.signer.address}  (${m.roles.signer.source}: settles results)
    treasury  ${m.roles.treasury.address}  (${m.roles.treasury.source}: paid its share of each fee)

  funded dev accounts (Clarinet's public keys: never use them on a real network):
${[...keys.keys()].map((n) => `    ${n.padEnd(9)} ${account(n)}  key ${keys.get(n)}`).join('\n')}

  submit a first task (from wallet_1), in another terminal:
    ${envPrefix}MARKET_PRIVATE_KEY=${keys.get('wallet_1')} npm run market -- submit --model ${DEMO_MODEL} --input ${input}
${
  agents >= 3
    ? `  or one that three nodes must agree on (security level 3, fee ${DEMO_PRICE * 3n} µSTX):
    ${envPrefix}MARKET_PRIVATE_KEY=${keys.get('wallet_1')} npm run market -- submit --model ${DEMO_MODEL} --input ${input} --security 3
`
    : ''
}
  or watch a stream of tasks settle:  ${envPrefix}npm run demo
  (market and demo find this marketplace in ${shown(file)} while it runs)
  Ctrl-C stops everything; npm start again resumes the same chain and database.
`);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the node agents, the signer and the devnet ...`);
  removeRunningMarketplace(m.dataDir);
  await m.stop();
  console.log('stopped.');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
for (const s of [m.devnet, m.signer, ...m.agents]) {
  void s.exited.then((code) => {
    if (!stopping) {
      console.error(
        `${s.name} exited unexpectedly (${code}); see ${shown(join(m.dataDir, 'logs', `${s.name}.log`))}. Stopping the rest.`,
      );
      void shutdown('exit');
    }
  });
}
