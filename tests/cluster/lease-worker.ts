/**
 * One signer replica's pulls, in a process of its own (as replicas are) so that two replicas lease
 * at the same time: in one thread the synchronous facade runs one transaction after the other,
 * and nothing races. Started by the test with `node --import tsx` and IPC; it opens the shared
 * PostgreSQL database, waits for the test's "go", then pulls for every node in turn, `rounds`
 * times, and reports what it leased and any error.
 */
import { resolveConfig, type SignerConfigInput } from '../../signer/config/index.js';
import { openDatabase } from '../../signer/db/index.js';
import type { Services } from '../../signer/services.js';
import { leaseUpTo } from '../../signer/tasks/scheduler.js';

/** What the test hands a lease worker. */
export interface LeaseWorkerData {
  url: string;
  nodes: string[];
  rounds: number;
  scheduler: SignerConfigInput['scheduler'];
}

/** What a lease worker reports once done. */
export interface LeaseWorkerReport {
  leased: { node: string; task: string }[];
  errors: string[];
}

const data = JSON.parse(process.env.LEASE_WORKER_DATA!) as LeaseWorkerData;
const store = openDatabase(data.url);
// Leasing reads only these of the services: no chain (no bonds, no tip), the scheduler's settings.
const s = {
  store,
  config: resolveConfig({ scheduler: data.scheduler, log: { level: 'silent' } }),
  bonds: null,
  chain: { tipHeight: null },
} as unknown as Services;

process.once('message', () => {
  const report: LeaseWorkerReport = { leased: [], errors: [] };
  for (let round = 0; round < data.rounds; round++) {
    // Each replica walks the nodes from another starting point, so pulls of one node meet on both.
    const offset = (round * 7) % data.nodes.length;
    for (let i = 0; i < data.nodes.length; i++) {
      const node = data.nodes[(i + offset) % data.nodes.length]!;
      try {
        for (const task of leaseUpTo(s, node, 2)) report.leased.push({ node, task: task.task_id });
      } catch (err) {
        const e = err as Error & { code?: string };
        report.errors.push(`${e.code ?? ''} ${e.message}`);
      }
    }
  }
  store.close();
  process.send!(report, () => process.exit(0));
});
process.send!('ready');
