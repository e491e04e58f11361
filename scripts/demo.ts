/**
 * `npm run demo [-- --tasks N]`: a stream of tasks submitted on chain by three wallets, shown
 * moving through the signer's statuses to settled, then what each party earned (read from the
 * escrow's task-completed events). Uses the marketplace `npm start` runs (found in
 * data/marketplace.json, or on DEVNET_PORT/SIGNER_PORT when those are set); starts its own
 * (in data/demo/) when none answers, and says so.
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { privateKeyToAddress } from '@stacks/transactions';
import { findRunningMarketplace, marketplaceDataDir } from '../protocol/config/index.js';
import {
  DEFAULT_DATA_DIR,
  DEMO_MODEL,
  devAccountKeys,
  keyFilesIn,
  startMarketplace,
  writeExampleInput,
  type Marketplace,
} from './lib/marketplace.js';
import { DEV_ESCROW, submitTasks, waitSettled, settlementEvents } from './lib/workload.js';
import { bar } from '../market/output.js';

const { values } = parseArgs({ options: { tasks: { type: 'string', default: '20' } } });
const count = Number(values.tasks);
if (!Number.isInteger(count) || count < 1 || count > 1000)
  throw new Error('--tasks must be a whole number from 1 to 1000');

/** The marketplace to use: explicit ports win, then the one `npm start` describes, then the default ports. */
async function findEndpoints(): Promise<{
  devnetUrl: string;
  signerUrl: string;
  dataDir: string;
  where: string;
} | null> {
  const answers = (url: string) =>
    fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) })
      .then((r) => r.ok)
      .catch(() => false);
  const { DEVNET_PORT, SIGNER_PORT } = process.env;
  if (DEVNET_PORT || SIGNER_PORT) {
    const e = {
      devnetUrl: `http://127.0.0.1:${DEVNET_PORT || 3999}`,
      signerUrl: `http://127.0.0.1:${SIGNER_PORT || 8080}`,
      dataDir: marketplaceDataDir(),
    };
    if (await answers(e.signerUrl)) return { ...e, where: 'DEVNET_PORT/SIGNER_PORT' };
    console.log(`no signer answers at ${e.signerUrl} (DEVNET_PORT/SIGNER_PORT)`);
    return null;
  }
  const found = await findRunningMarketplace();
  if (found.found)
    return {
      devnetUrl: found.found.devnet_url,
      signerUrl: found.found.signer_url,
      dataDir: found.found.data_dir,
      where: found.file,
    };
  if (found.note) console.log(`note: ${found.note}`);
  const e = { devnetUrl: 'http://127.0.0.1:3999', signerUrl: 'http://127.0.0.1:8080', dataDir: marketplaceDataDir() };
  return (await answers(e.signerUrl)) ? { ...e, where: 'the default ports' } : null;
}

let own: Marketplace | undefined;
let endpoints = await findEndpoints();
if (endpoints)
  console.log(
    `using the marketplace at ${endpoints.signerUrl} (devnet ${endpoints.devnetUrl}), found from ${endpoints.where}`,
  );
else {
  console.log(
    `no marketplace is running (npm start); starting one of its own in ${join(DEFAULT_DATA_DIR, 'demo')} for this demo ...`,
  );
  own = await startMarketplace({ dataDir: join(DEFAULT_DATA_DIR, 'demo') });
  endpoints = { ...own, where: 'this demo' };
}

try {
  const keys = devAccountKeys();
  const wallets = ['wallet_1', 'wallet_2', 'wallet_3'].map((n) => keys.get(n)!);
  const input = writeExampleInput(endpoints.dataDir);
  const started = Date.now();
  process.stdout.write(`submitting ${count} tasks for "${DEMO_MODEL}" from wallet_1..3 ...\n`);
  const ids = await submitTasks(endpoints, { model: DEMO_MODEL, walletKeys: wallets, count, inputFile: input });
  const order = ['unseen', 'pending', 'in_progress', 'completed', 'submitted', 'settled'];
  await waitSettled(endpoints.signerUrl, ids, 300_000, (c) => {
    // Progress only on a terminal, rewritten in place; piped, a line per poll would bury the summary below.
    if (!process.stdout.isTTY) return;
    const settled = c.get('settled') ?? 0;
    const line = order
      .filter((s) => c.get(s))
      .map((s) => `${s} ${c.get(s)}`)
      .join('  ');
    process.stdout.write(`\r\x1b[2K${bar(settled / ids.length, 30)} ${settled}/${ids.length} settled   ${line}`);
  });
  const seconds = (Date.now() - started) / 1000;
  process.stdout.write(
    `\n\n${ids.length} tasks settled on chain in ${seconds.toFixed(1)} s (${(ids.length / seconds).toFixed(2)} tasks/s)\n\n`,
  );

  const mine = new Set(ids);
  const earned = new Map<string, { role: string; amount: bigint }>();
  const add = (who: string, role: string, amount: bigint) => {
    const e = earned.get(who) ?? { role, amount: 0n };
    e.amount += amount;
    earned.set(who, e);
  };
  let fees = 0n;
  for (const ev of await settlementEvents(endpoints.devnetUrl, DEV_ESCROW)) {
    if (!mine.has(ev.taskId)) continue;
    fees += ev.fee;
    add(ev.node, 'node', ev.nodePayout);
    add(ev.owner, 'model owner', ev.ownerPayout);
    add(ev.treasury, 'treasury', ev.treasuryPayout);
  }
  const names = new Map([...keys.entries()].map(([n, k]) => [privateKeyToAddress(k, 'testnet'), n]));
  // The keys npm start made: the treasury's, the signer's and its node agents'.
  for (const [address, file] of keyFilesIn(endpoints.dataDir)) names.set(address, file);
  console.log(`what each party earned from these ${ids.length} fees (${fees} µSTX escrowed by the requesters):`);
  for (const [who, e] of earned)
    console.log(`  ${e.role.padEnd(12)} ${who}${names.has(who) ? ` (${names.get(who)})` : ''}  ${e.amount} µSTX`);
} finally {
  await own?.stop();
}
