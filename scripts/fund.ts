/**
 * `npm run devnet:fund -- ADDRESS [MICRO_STX]`: sends STX on the local devnet from its faucet
 * dev account, e.g. to a node key's address before `node-agent run` bonds it (the agent prints
 * the address when it has none). Tops the address up to MICRO_STX (default 10 STX).
 */
import { parseArgs } from 'node:util';
import { findRunningMarketplace } from '../protocol/config/index.js';
import { fundAddress, NODE_FUNDING } from './lib/funding.js';

const { positionals } = parseArgs({ allowPositionals: true });
const [address, amount] = positionals;
if (!address || !/^S[A-Z0-9]{39,40}$/.test(address) || (amount !== undefined && !/^\d+$/.test(amount))) {
  console.error(
    'usage: npm run devnet:fund -- ADDRESS [MICRO_STX]   (the devnet at DEVNET_URL, else the one npm start runs, else http://127.0.0.1:3999)',
  );
  process.exit(2);
}
/** DEVNET_URL or DEVNET_PORT when set, else the devnet of the marketplace `npm start` runs (data/marketplace.json), else 3999. */
async function devnet(): Promise<string> {
  if (process.env.DEVNET_URL) return process.env.DEVNET_URL;
  if (process.env.DEVNET_PORT) return `http://127.0.0.1:${process.env.DEVNET_PORT}`;
  const running = await findRunningMarketplace();
  if (running.note) console.error(`note: ${running.note}`);
  return running.found?.devnet_url ?? 'http://127.0.0.1:3999';
}
const devnetUrl = await devnet();
try {
  const sent = await fundAddress(devnetUrl, address, amount === undefined ? NODE_FUNDING : BigInt(amount));
  console.log(
    sent === 0n
      ? `${address} already holds that much`
      : `sent ${sent} micro-STX to ${address} from the devnet faucet account`,
  );
} catch (e) {
  const cause = (e as Error & { cause?: Error }).cause?.message ?? (e as Error).message;
  console.error(`devnet:fund: ${cause}; is the devnet running (npm start or npm run devnet) at ${devnetUrl}?`);
  process.exit(1);
}
