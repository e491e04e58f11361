/**
 * One signer replica's pulls, on a thread of its own so that two replicas lease at the same time
 * (in one thread the synchronous facade runs one transaction after the other, and nothing
 * races). It opens the shared PostgreSQL database, waits for the test's "go", then pulls for every
 * node in turn, `rounds` times, and reports what it leased and any error.
 */
import { parentPort, workerData } from 'node:worker_threads';
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

const data = workerData as LeaseWorkerData;
const store = openDatabase(data.url);
// Leasing reads only these of the services: no chain (no bonds, no tip), the scheduler's settings.
const s = {
  store,
  config: resolveConfig({ scheduler: data.scheduler, log: { level: 'silent' } }),
  bonds: null,
  chain: { tipHeight: null },
} as unknown as Services;

parentPort!.once('message', () => {
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
  parentPort!.postMessage(report);
});
parentPort!.postMessage('ready');
