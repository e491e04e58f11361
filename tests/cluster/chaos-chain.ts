/**
 * The chaos test's view of the chain: what the escrow says became of each task (its print events),
 * and refunds of the tasks the signer gave up on, claimed by their requesters as `market reclaim` does.
 */
import { Pc, deserializeCV } from '@stacks/transactions';
import { INFERENCE_ESCROW, reclaimArgs } from '../../protocol/contracts/index.js';
import { walletFromKey } from '../../market/index.js';
import { DEV_ESCROW, marketChain, type Endpoints } from '../../scripts/lib/workload.js';

/** Task ids by what the escrow printed about them. */
export interface Outcome {
  /** Exactly one payment event (task-completed or task-settled-redundant) and no refund. */
  paidOnce: bigint[];
  /** One task-reclaimed event and no payment. */
  refunded: bigint[];
  /** More than one payment or refund, or both. */
  twice: bigint[];
  /** Neither paid nor refunded. */
  lost: bigint[];
}

/** Reads every escrow event once and sorts `ids` by their fate. */
export async function outcome(devnetUrl: string, ids: bigint[]): Promise<Outcome> {
  const paid = new Map<bigint, number>();
  const reclaimed = new Map<bigint, number>();
  for (let offset = 0; ; offset += 50) {
    const res = await fetch(`${devnetUrl}/extended/v1/contract/${DEV_ESCROW}/events?limit=50&offset=${offset}`);
    const page = (await res.json()) as { results: { contract_log?: { value: { hex: string } } }[] };
    for (const ev of page.results) {
      if (!ev.contract_log) continue;
      const cv = deserializeCV(ev.contract_log.value.hex) as { value: Record<string, { value: unknown }> };
      const event = cv.value.event?.value;
      const id = cv.value['task-id']?.value;
      if (typeof id !== 'bigint') continue;
      // Paid: by complete-tasks, or by settle-redundant for a task several nodes ran (spot checks).
      if (event === 'task-completed' || event === 'task-settled-redundant') paid.set(id, (paid.get(id) ?? 0) + 1);
      if (event === 'task-reclaimed') reclaimed.set(id, (reclaimed.get(id) ?? 0) + 1);
    }
    if (page.results.length < 50) break;
  }
  const out: Outcome = { paidOnce: [], refunded: [], twice: [], lost: [] };
  for (const id of ids) {
    const p = paid.get(id) ?? 0;
    const r = reclaimed.get(id) ?? 0;
    if (p + r > 1) out.twice.push(id);
    else if (p === 1) out.paidOnce.push(id);
    else if (r === 1) out.refunded.push(id);
    else out.lost.push(id);
  }
  return out;
}

/**
 * Refunds tasks still pending on chain: mines empty blocks past their deadlines (the devnet's
 * /devnet/mine), then each requester reclaims its fee. `walletKeys` are the submitters' keys.
 */
export async function reclaimPending(e: Endpoints, ids: bigint[], walletKeys: string[]): Promise<void> {
  const chain = marketChain(e);
  const tasks = (await Promise.all(ids.map(async (id) => ({ id, task: await chain.task(id) })))).filter(
    (t) => t.task?.status === 'pending',
  );
  if (tasks.length === 0) return;
  const last = tasks.reduce((a, t) => (t.task!.deadline > a ? t.task!.deadline : a), 0n);
  const blocks = Number(last) - (await chain.tipHeight()) + 1;
  if (blocks > 0)
    await fetch(`${e.devnetUrl}/devnet/mine`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ blocks }),
    });
  const wallets = new Map(walletKeys.map((k) => walletFromKey(k, 'devnet')).map((w) => [w.address, w] as const));
  // One requester's calls in order (its nonces), requesters side by side.
  const byRequester = new Map<string, typeof tasks>();
  for (const t of tasks) byRequester.set(t.task!.requester, [...(byRequester.get(t.task!.requester) ?? []), t]);
  await Promise.all(
    [...byRequester].map(async ([requester, own]) => {
      for (const { id, task } of own) {
        const txid = await chain.call(wallets.get(requester)!, INFERENCE_ESCROW, 'reclaim', reclaimArgs(id), [
          Pc.principal(DEV_ESCROW).willSendEq(task!.fee).ustx(),
        ]);
        await chain.confirm(txid);
      }
    }),
  );
}
