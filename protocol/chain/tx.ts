/**
 * Following a broadcast transaction until it is mined: the status a Stacks API reports, the
 * contract error code (`(err uN)`) of an aborted call, and one polling loop for every caller.
 */

/** A transaction's state as the Stacks API's `/extended/v1/tx/{txid}` reports it. */
export type TxState =
  | { status: 'pending' }
  | { status: 'not_found' }
  | { status: 'success'; blockHeight: number /** The call's result, serialized Clarity (hex). */; resultHex?: string }
  | {
      status: 'aborted';
      blockHeight: number;
      /** The API's status, e.g. `abort_by_response`. */
      reason: string;
      /** The call's result (`(err u1003)`) or the VM's error. */
      detail: string;
      /** The contract's error code, when it returned one. */
      code: number | null;
    }
  | { status: 'dropped'; reason: string };

/** A state `pollTx` stops at: anything but pending and not (yet) found. */
export type FinalState<T extends { status: string }> = Exclude<T, { status: 'pending' } | { status: 'not_found' }>;

/** The contract error code in a Clarity repr or a failure reason (`(err u1003)` -> 1003), or null. */
export function contractErrorCode(text: string | null | undefined): number | null {
  const m = /\(err u(\d+)\)/.exec(text ?? '');
  return m ? Number(m[1]) : null;
}

/** `0x`-prefixed, as the API's transaction paths take it. */
export function txidWith0x(txid: string): string {
  return txid.startsWith('0x') ? txid : `0x${txid}`;
}

interface ApiTx {
  tx_status: string;
  block_height?: number;
  tx_result?: { hex: string; repr: string };
  vm_error?: string | null;
}

/** Turns the API's transaction record into a TxState. */
export function txStateOf(tx: ApiTx): TxState {
  if (tx.tx_status === 'pending') return { status: 'pending' };
  if (tx.tx_status.startsWith('dropped')) return { status: 'dropped', reason: tx.tx_status };
  const blockHeight = tx.block_height ?? 0;
  if (tx.tx_status === 'success')
    return { status: 'success', blockHeight, ...(tx.tx_result ? { resultHex: tx.tx_result.hex } : {}) };
  const detail = tx.tx_result?.repr ?? tx.vm_error ?? '';
  return { status: 'aborted', blockHeight, reason: tx.tx_status, detail, code: contractErrorCode(tx.tx_result?.repr) };
}

/** Reads a transaction's state from a Stacks API at `apiUrl` (a connection failure throws fetch's TypeError). */
export async function readTxState(apiUrl: string, txid: string): Promise<TxState> {
  const res = await fetch(new URL(`/extended/v1/tx/${txidWith0x(txid)}`, apiUrl));
  if (res.status === 404) return { status: 'not_found' };
  if (!res.ok) throw new Error(`${apiUrl} answered ${res.status} for transaction ${txidWith0x(txid)}`);
  return txStateOf((await res.json()) as ApiTx);
}

/** Options of `pollTx`. */
export interface PollOptions {
  /** Give up after this long; the transaction may still be mined later. */
  timeoutMs: number;
  /** Pause between reads. */
  pollMs?: number;
  /** Called after each read that found the transaction still pending, with the seconds waited. */
  onTick?: (seconds: number) => void;
}

/**
 * Reads the state with `read` until it is final (success, aborted, dropped); null when
 * `timeoutMs` passed first. Callers turn both into their own errors.
 */
export async function pollTx<T extends { status: string }>(
  read: () => Promise<T>,
  opts: PollOptions,
): Promise<FinalState<T> | null> {
  const started = Date.now();
  for (;;) {
    const state = await read();
    if (state.status !== 'pending' && state.status !== 'not_found') return state as FinalState<T>;
    const waited = Date.now() - started;
    if (waited > opts.timeoutMs) return null;
    opts.onTick?.(waited / 1000);
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 250));
  }
}
