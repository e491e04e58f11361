/**
 * Signed model-registry calls from the signer's own account (the console's publish, unpublish
 * and rollback), each followed until it is mined. A contract error comes back as an ApiError
 * that names the error and says what to do about it.
 */
import type { ClarityValue } from '@stacks/transactions';
import { MODEL_REGISTRY, errorName } from '../../protocol/index.js';
import { contractErrorCode, pollTx } from '../../protocol/index.js';
import { ApiError } from '../errors.js';
import type { Chain } from '../chain/index.js';

/** What to do about each registry error the console can run into. */
const HINTS: Record<string, string> = {
  ERR_NOT_OWNER: "the signer's account does not own this model; only its owner can change it",
  ERR_OUTPUT_NOT_FOUND: 'that version does not exist on chain; reload the versions list',
  ERR_OUTPUT_SPENT: 'the live version was changed by another transaction meanwhile; reload and try again',
  ERR_MODEL_EXISTS:
    'this name was deployed before (a name is never reused, even after it is retired); publish under another name',
  ERR_INVALID_MODEL: 'the model name is empty',
  ERR_INVALID_HASH: 'the artifact hash is not a sha256',
  ERR_INVALID_FORMAT: 'the format is empty',
  ERR_INVALID_ANCESTOR: 'the version to roll back to is not an earlier version of this model',
};

/** A mined registry call. */
export interface MinedCall {
  txid: string;
  blockHeight: number;
}

/** Options of `sendRegistryCall`. */
export interface SendOptions {
  /** Give up waiting for the transaction to be mined after this long (it may still be mined later). */
  timeoutMs: number;
  pollMs?: number;
}

/** The contract error in a failed transaction's reason, by name with its hint, or the reason itself. */
export function explainAbort(fn: string, reason: string): string {
  const code = contractErrorCode(reason);
  if (code === null) return `${fn} failed on chain: ${reason}`;
  const name = errorName(code);
  return `${fn} failed on chain with ${name}${HINTS[name] ? `: ${HINTS[name]}` : ''}`;
}

async function reach<T>(what: string, pending: Promise<T>): Promise<T> {
  try {
    return await pending;
  } catch (e) {
    if (e instanceof TypeError && /fetch failed/.test(e.message))
      throw new ApiError(
        'unavailable',
        `cannot reach the chain to ${what} (chain.api_url); is the Stacks node or devnet running?`,
      );
    throw e;
  }
}

/** Signs `model-registry.<fn>(args)` with the signer's key, broadcasts it and waits until it is mined. */
export async function sendRegistryCall(
  chain: Chain,
  fn: string,
  args: ClarityValue[],
  opts: SendOptions,
): Promise<MinedCall> {
  const tx = await reach(`sign ${fn}`, chain.buildContractCall(MODEL_REGISTRY, fn, args));
  try {
    await reach(`broadcast ${fn}`, chain.broadcast(tx));
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw new ApiError('conflict', `the Stacks node refused the ${fn} transaction: ${(e as Error).message}`);
  }
  const st = await pollTx(() => reach(`follow ${fn}`, chain.txStatus(tx.txid)), {
    timeoutMs: opts.timeoutMs,
    pollMs: opts.pollMs ?? 200,
  });
  if (!st)
    throw new ApiError(
      'gateway_timeout',
      `the ${fn} transaction ${tx.txid} was not mined within ${opts.timeoutMs} ms (models.publish_timeout_ms); it may still be: check the versions list later`,
    );
  if (st.status === 'success') return { txid: tx.txid, blockHeight: st.blockHeight };
  if (st.status === 'aborted')
    throw new ApiError('conflict', `${explainAbort(fn, st.reason)} (transaction ${tx.txid})`);
  throw new ApiError('conflict', `the ${fn} transaction ${tx.txid} was dropped (${st.reason}); try again`);
}
