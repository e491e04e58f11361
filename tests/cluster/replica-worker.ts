/**
 * One signer replica's pulls or token admissions, in a process of its own (as replicas are) so
 * that two replicas race for real: in one thread the synchronous facade runs one transaction after
 * the other. Started by tests/cluster/replicas.test.ts with `node --import tsx` and IPC; it opens
 * the shared PostgreSQL database, waits for the test's "go", then pulls for every node in turn,
 * `rounds` times, or admits `admits` requests of token `tokenId`, and reports what it got.
 */
import { resolveConfig, type SignerConfigInput } from '../../signer/config/index.js';
import { openDatabase } from '../../signer/db/index.js';
import type { Services } from '../../signer/services.js';
import { leaseUpTo } from '../../signer/tasks/scheduler.js';
import { admit } from '../../signer/tokens/admission.js';

/** What the test hands a replica worker. */
export interface ReplicaWorkerData {
  url: string;
  nodes: string[];
  rounds: number;
  scheduler: SignerConfigInput['scheduler'];
  /** Admissions instead of pulls: this many requests of this token. */
  tokenId?: number;
  admits?: number;
}

/** What a replica worker reports once done. */
export interface ReplicaWorkerReport {
  leased: { node: string; task: string }[];
  /** Admission outcomes by kind (admitted, over_rate, over_quota). */
  admissions: Record<string, number>;
  errors: string[];
}

const data = JSON.parse(process.env.REPLICA_WORKER_DATA!) as ReplicaWorkerData;
const store = openDatabase(data.url);
// Leasing reads only these of the services: no chain (no bonds, no tip), the scheduler's settings.
const s = {
  store,
  config: resolveConfig({ scheduler: data.scheduler, log: { level: 'silent' } }),
  bonds: null,
  chain: { tipHeight: null },
} as unknown as Services;

process.once('message', () => {
  const report: ReplicaWorkerReport = { leased: [], admissions: {}, errors: [] };
  for (let i = 0; data.tokenId !== undefined && i < (data.admits ?? 0); i++) {
    try {
      const { kind } = admit(store, data.tokenId);
      report.admissions[kind] = (report.admissions[kind] ?? 0) + 1;
    } catch (err) {
      const e = err as Error & { code?: string };
      report.errors.push(`${e.code ?? ''} ${e.message}`);
    }
  }
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
