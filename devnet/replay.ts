/** Start-up and rebuild: the devnet's chain state is its log, re-executed block by block. */
import type { Vm, BlockEntry } from './vm.js';
import type { Store } from './store.js';
import { decode } from './admission.js';

/**
 * Re-executes every logged block in order into `vm`, checking that each block lands at its
 * height and each transaction returns what it returned the first time.
 */
export function replay(vm: Vm, store: Store): { txs: number; blocks: number } {
  let txs = 0;
  let blocks = 0;
  for (const b of store.blocks()) {
    const rows = store.blockTxs(b.height);
    const entries: BlockEntry[] = rows.map((row) => {
      const d = decode(new Uint8Array(row.raw));
      return { sender: d.origin, fee: d.fee, action: d.action, ...(row.skip ? { skip: row.skip } : {}) };
    });
    const outcomes = vm.mine(entries);
    const diverged =
      vm.tipHeight !== b.height
        ? `the VM is at height ${vm.tipHeight}`
        : (() => {
            const i = outcomes.findIndex((o, k) => !entries[k].skip && o.resultHex !== rows[k].result_hex);
            return i < 0
              ? null
              : `transaction ${rows[i].txid} returned ${outcomes[i].resultHex}, logged ${rows[i].result_hex}`;
          })();
    if (diverged) throw new Error(`replay diverged at block ${b.height}: ${diverged}; start with --reset`);
    txs += entries.length;
    blocks++;
  }
  return { txs, blocks };
}
