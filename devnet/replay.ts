/** Start-up and rebuild: the devnet's chain state is its log, re-executed block by block. */
import type { Vm, BlockEntry } from './vm.js';
import type { Store } from './store.js';
import { decode } from './admission.js';

/** Re-executes every logged block in order into `vm`. */
export function replay(vm: Vm, store: Store): { txs: number; blocks: number } {
  let txs = 0;
  let blocks = 0;
  for (const b of store.blocks()) {
    const entries: BlockEntry[] = store.blockTxs(b.height).map((row) => {
      const d = decode(new Uint8Array(row.raw));
      return { sender: d.origin, fee: d.fee, action: d.action, ...(row.skip ? { skip: row.skip } : {}) };
    });
    vm.mine(entries);
    txs += entries.length;
    blocks++;
    if (vm.tipHeight !== b.height) throw new Error(`replay diverged at block ${b.height} (VM is at ${vm.tipHeight}); start with --reset`);
  }
  return { txs, blocks };
}
