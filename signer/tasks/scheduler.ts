/**
 * The scheduler: when a node pulls, it gets the first pending task it serves (priority, then
 * age) unless a clearly better node with free capacity could take it and the task is still
 * young. Nodes are scored by performance score, recent latency, in-flight load, capabilities
 * and reputation.
 */
import { capabilitiesSchema } from '../../protocol/index.js';
import { atomic, prepared } from '../db/index.js';
import { reputationOf, reputationScore, type NodeRow } from '../nodes/index.js';
import type { Services } from '../services.js';
import { transition, type TaskRow } from './state.js';

/** Weights of the score components; they sum to 1. */
export const SCORE_WEIGHTS = { performance: 0.3, latency: 0.2, load: 0.2, capabilities: 0.1, reputation: 0.2 } as const;

/** A node's score for taking one more task, in [0, 1]. */
export function scoreNode(node: NodeRow, inFlight: number, capacity: number, now: number, halfLifeMs: number): number {
  const perf = node.performance_score / (node.performance_score + 1);
  const latency = node.latency_ms === null ? 0.5 : 1 / (1 + node.latency_ms / 1000);
  const load = Math.max(0, 1 - inFlight / capacity);
  const caps = capabilitiesScore(node.capabilities);
  const rep = reputationScore(reputationOf(node), now, halfLifeMs);
  const w = SCORE_WEIGHTS;
  return w.performance * perf + w.latency * latency + w.load * load + w.capabilities * caps + w.reputation * rep;
}

function capabilitiesScore(json: string | null): number {
  if (!json) return 0.25;
  const parsed = capabilitiesSchema.safeParse(JSON.parse(json));
  if (!parsed.success) return 0.25;
  const c = parsed.data;
  return 0.5 * Math.min(1, c.cpu_cores / 16) + 0.25 * Math.min(1, c.memory_mb / 65_536) + 0.25 * Math.min(1, c.gpu_memory_mb / 24_576);
}

function inFlightCounts(s: Services): Map<string, number> {
  const rows = prepared(s.store.sqlite, "select inference_node_id as node, count(*) as n from inference_tasks where status = 'in_progress' group by inference_node_id").all() as { node: string | null; n: number }[];
  return new Map(rows.map((r) => [r.node ?? '', r.n]));
}

/** A node may take this many candidates into account per pull, besides the tasks it asks for. */
const CANDIDATES = 32;

/** The first pending tasks of the given models, by priority then age (one index range per model). */
function candidatesFor(s: Services, models: string[], limit: number): TaskRow[] {
  // Without a known tip every deadline passes the filter (heights are never negative).
  const tip = s.chain.tipHeight ?? -1;
  const query = prepared(
    s.store.sqlite,
    "select * from inference_tasks where status = 'pending' and artifact_hash = ? and (deadline is null or deadline > ?) order by priority desc, created_at asc limit ?",
  );
  const rows = models.flatMap((model) => query.all(model, tip, limit) as TaskRow[]);
  if (models.length > 1) rows.sort((a, b) => b.priority - a.priority || a.created_at - b.created_at);
  return rows.slice(0, limit);
}

/** Leases the best-suited pending task to `nodeId`, or returns null when none is for it now. */
export function leaseNext(s: Services, nodeId: string, now = Date.now()): TaskRow | null {
  return leaseUpTo(s, nodeId, 1, now)[0] ?? null;
}

/**
 * Leases up to `max` of the best-suited pending tasks to `nodeId` in one transaction (none when
 * it is neither online nor busy, or at its in-flight limit). A young task is left for a clearly better node
 * with free capacity, the node's own score falling as it takes more.
 */
export function leaseUpTo(s: Services, nodeId: string, max: number, now = Date.now()): TaskRow[] {
  const { scheduler } = s.config;
  const cap = scheduler.max_in_flight_per_node;
  return atomic(s.store.sqlite, (): TaskRow[] => {
    const online = prepared(s.store.sqlite, "select * from inference_nodes where status = 'online'").all() as NodeRow[];
    // A busy node that asks for work has room again (its heartbeat can be up to an interval old); the cap below still holds.
    const me = online.find((n) => n.node_id === nodeId) ?? (prepared(s.store.sqlite, "select * from inference_nodes where node_id = ? and status = 'busy'").get(nodeId) as NodeRow | undefined);
    if (!me) return [];
    const nodes = online.includes(me) ? online : [...online, me];
    const load = inFlightCounts(s);
    const room = Math.min(max, cap - (load.get(nodeId) ?? 0));
    if (room <= 0) return [];
    // Tasks are only passed over for another online node: alone, a node takes the first `room`.
    const candidates = candidatesFor(s, [...new Set<string>(JSON.parse(me.supported_models))], nodes.length > 1 ? CANDIDATES + room : room);
    const loadOf = (n: NodeRow) => load.get(n.node_id) ?? 0;
    const score = (n: NodeRow) => scoreNode(n, loadOf(n), cap, now, scheduler.reputation_half_life_ms);
    const leased: TaskRow[] = [];
    for (const task of candidates) {
      if (leased.length >= room) break;
      let mine: number | undefined;
      if (now - task.created_at < scheduler.prefer_better_node_ms) {
        mine = score(me);
        const better = nodes.some((n) => n !== me && loadOf(n) < cap && JSON.parse(n.supported_models).includes(task.artifact_hash) && score(n) > mine! * 1.1);
        if (better) continue;
      }
      leased.push(
        transition(
          s.store,
          task.task_id,
          'in_progress',
          { reason: `leased to ${nodeId} (attempt ${task.attempts + 1}${mine === undefined ? '' : `, score ${mine.toFixed(3)}`})`, nodeId, expect: ['pending'], now },
          { inference_node_id: nodeId, attempts: task.attempts + 1, leased_at: now, lease_expires_at: now + scheduler.max_infer_time_ms },
          task,
        ),
      );
      load.set(nodeId, loadOf(me) + 1);
    }
    return leased;
  });
}
