/**
 * A stream of on-chain tasks against a running marketplace, for `npm run demo`, the end-to-end
 * tests and the benchmark: submit from several wallets, follow the signer's statuses, and read
 * balances and settlement events from the chain.
 */
import { readFileSync } from 'node:fs';
import { ClarityType, Pc, deserializeCV } from '@stacks/transactions';
import {
  INFERENCE_ESCROW,
  decodeTaskCompleted,
  submitTaskArgs,
  type TaskCompleted,
} from '../../protocol/contracts/index.js';
import { loadMarketConfig, MarketChain, SignerClient, walletFromKey } from '../../market/index.js';
import { jsonInputsToBinary, type TaskStatus } from '../../protocol/index.js';

/** Where a marketplace answers. */
export interface Endpoints {
  devnetUrl: string;
  signerUrl: string;
}

/** A market chain client for these endpoints. */
export function marketChain(e: Endpoints): MarketChain {
  return new MarketChain(
    loadMarketConfig(undefined, { node_url: e.devnetUrl, signer_url: e.signerUrl, network: 'devnet' }),
  );
}

export interface SubmitPlan {
  model: string;
  /** Hex keys of the submitting wallets; tasks are spread round-robin across them. */
  walletKeys: string[];
  count: number;
  inputFile: string;
  /** Upload the input in the binary tensor form (protocol/tensor/binary). */
  binary?: boolean;
  /**
   * `same` (default): every task names the one uploaded input. `distinct`: task i gets its own
   * input (the file's first number plus i / 1000), as when every user sends their own image.
   */
  inputs?: 'same' | 'distinct';
  maxBlocks?: bigint;
  fee?: bigint;
  /** Nodes that must agree (1, 3 or 5); the default fee is the price times this. */
  security?: 1 | 3 | 5;
}

/** Submits `count` tasks; resolves with their on-chain ids once every submit-task is mined. */
export async function submitTasks(e: Endpoints, plan: SubmitPlan): Promise<bigint[]> {
  const chain = marketChain(e);
  const head = await chain.modelHead(plan.model);
  if (!head || head.outputId === null) throw new Error(`model ${plan.model} is not live`);
  const signer = new SignerClient(e.signerUrl);
  const input = readFileSync(plan.inputFile);
  const security = plan.security ?? 1;
  const fee = plan.fee ?? head.price * BigInt(security);
  const perWallet = plan.walletKeys.map((key, w) => ({
    wallet: walletFromKey(key, 'devnet'),
    n: Math.floor(plan.count / plan.walletKeys.length) + (w < plan.count % plan.walletKeys.length ? 1 : 0),
  }));
  // Input i is named by wallet i mod W's tasks (below), so that wallet signs its upload: the signer counts inputs against their uploader.
  const upload = (bytes: Uint8Array, i: number) =>
    signer.putInput(plan.binary ? jsonInputsToBinary(bytes) : bytes, perWallet[i % perWallet.length]!.wallet);
  const inputHashes =
    plan.inputs === 'distinct' ? await uploadDistinct(input, plan.count, upload) : [await upload(input, 0)];
  // Wallets submit in parallel; each wallet's transactions go one after another so the node's
  // nonce for it is always the next one.
  const txids = (
    await Promise.all(
      perWallet.map(async ({ wallet, n }, w) => {
        const ids: string[] = [];
        for (let i = 0; i < n; i++) {
          const inputHash = inputHashes[(w + i * perWallet.length) % inputHashes.length]!;
          const args = submitTaskArgs({
            modelOutput: head.outputId!,
            inputHash,
            fee,
            maxBlocks: plan.maxBlocks ?? 200n,
            privacy: 0,
            priority: 0,
            security,
          });
          ids.push(
            await chain.call(wallet, INFERENCE_ESCROW, 'submit-task', args, [
              Pc.principal(wallet.address).willSendEq(fee).ustx(),
            ]),
          );
        }
        return ids;
      }),
    )
  ).flat();
  const ids: bigint[] = [];
  for (const txid of txids) {
    const r = (await chain.confirm(txid)).result;
    if (r.type !== ClarityType.ResponseOk || r.value.type !== ClarityType.UInt)
      throw new Error(`submit-task ${txid} returned ${r.type}`);
    ids.push(BigInt(r.value.value));
  }
  return ids;
}

/** Uploads `count` variants of an OIP JSON input (a few at a time); returns their hashes in order. */
async function uploadDistinct(
  json: Buffer,
  count: number,
  upload: (bytes: Uint8Array, i: number) => Promise<string>,
): Promise<string[]> {
  const doc = JSON.parse(json.toString('utf8')) as { inputs: { data: number[] }[] };
  const first = doc.inputs[0]!.data[0]!;
  const hashes: string[] = [];
  for (let i = 0; i < count; i += 8) {
    const batch = Array.from({ length: Math.min(8, count - i) }, (_, k) => {
      doc.inputs[0]!.data[0] = first + (i + k) / 1000;
      return upload(Buffer.from(JSON.stringify(doc)), i + k);
    });
    hashes.push(...(await Promise.all(batch)));
  }
  return hashes;
}

/** Signer statuses of these tasks, counted. */
export async function statusCounts(signerUrl: string, ids: bigint[]): Promise<Map<TaskStatus | 'unseen', number>> {
  const signer = new SignerClient(signerUrl);
  const counts = new Map<TaskStatus | 'unseen', number>();
  for (const id of ids) {
    const s = (await signer.status(String(id)).catch(() => null))?.status as TaskStatus | undefined;
    counts.set(s ?? 'unseen', (counts.get(s ?? 'unseen') ?? 0) + 1);
  }
  return counts;
}

/** Polls until every task is settled (or failed / timeout); `onTick` sees the counts. */
export async function waitSettled(
  signerUrl: string,
  ids: bigint[],
  timeoutMs: number,
  onTick?: (counts: Map<string, number>) => void,
): Promise<Map<string, number>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counts = await statusCounts(signerUrl, ids);
    onTick?.(counts);
    const final = (counts.get('settled') ?? 0) + (counts.get('failed') ?? 0) + (counts.get('timeout') ?? 0);
    if (final === ids.length) return counts;
    if (Date.now() > deadline) throw new Error(`after ${timeoutMs} ms: ${JSON.stringify(Object.fromEntries(counts))}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** STX balance of a principal, µSTX. */
export async function balance(devnetUrl: string, principal: string): Promise<bigint> {
  const res = await fetch(`${devnetUrl}/v2/accounts/${principal}?proof=0`);
  if (!res.ok) throw new Error(`balance of ${principal}: HTTP ${res.status}`);
  return BigInt(((await res.json()) as { balance: string }).balance);
}

/** Every `task-completed` event the escrow printed. */
export async function settlementEvents(devnetUrl: string, escrow: string): Promise<TaskCompleted[]> {
  const out: TaskCompleted[] = [];
  for (let offset = 0; ; offset += 50) {
    const res = await fetch(`${devnetUrl}/extended/v1/contract/${escrow}/events?limit=50&offset=${offset}`);
    const page = (await res.json()) as { results: { contract_log?: { value: { hex: string; repr: string } } }[] };
    for (const ev of page.results) {
      if (ev.contract_log?.value.repr.includes('"task-completed"'))
        out.push(decodeTaskCompleted(deserializeCV(ev.contract_log.value.hex)));
    }
    if (page.results.length < 50) return out;
  }
}

/** The escrow contract principal of a marketplace started with the dev deployer. */
export const DEV_ESCROW = `ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.${INFERENCE_ESCROW}`;
