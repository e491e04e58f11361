/**
 * The scheduler: when a node pulls, it gets the first pending task it serves (priority, then
 * age) unless a clearly better node with free capacity could take it and the task is still
 * young. Only nodes whose key has an active bond on chain are scheduled (with a chain). Nodes
 * are scored on what the signer measured itself (recent latency, in-flight load, successes
 * against failures and disagreements) and on their stake; what a node says of itself at
 * registration (performance_score, capabilities) does not count, since anyone can claim 1000.
 *
 * Replicas on one PostgreSQL (issue 15) lease from the same table: a pull locks its node's row
 * first, so one node's pulls take turns across replicas and its in-flight cap holds, and takes
 * candidates with SKIP LOCKED, so two replicas never wait on, nor lease, the same task. Nodes,
 * in-flight counts and reputations are rows of the shared database, so "a clearly better node"
 * is judged across every replica's nodes.
 */
import { atomic, prepared } from '../db/index.js';
import { reputationOf, reputationScore, type NodeRow } from '../nodes/index.js';
import type { Services } from '../services.js';
import { transition, type TaskRow } from './state.js';

/** Weights of the score components; they sum to 1. Reputation weighs most: it is the record of results. */
export const SCORE_WEIGHTS = { latency: 0.25, load: 0.2, reputation: 0.4, stake: 0.15 } as const;

/** The stake score of a node that is not weighed by stake (a signer without a chain): the same for all. */
export const NEUTRAL_STAKE_SCORE = 0.5;

/**
 * A stake in [0, 1) with diminishing returns: r / (r + 1) where r is the stake in units of the
 * contract's minimum. The minimum scores 0.5, ten times it 0.91: more stake counts, but a large
 * one cannot buy the work of nodes with a better record.
 */
export function stakeScore(stake: bigint, minStake: bigint): number {
  if (stake <= 0n) return 0;
  const r = Number(stake) / Number(minStake > 0n ? minStake : 1n);
  return r / (r + 1);
}

/**
 * A node's score for taking one more task, in [0, 1]: measured latency (an EMA of lease to
 * result; unknown counts as middling), free room, reputation (decayed successes against
 * failures, which include lease expiries, error reports and outvoted results) and `stake`, a
 * stakeScore.
 */
export function scoreNode(
  node: NodeRow,
  inFlight: number,
  capacity: number,
  now: number,
  halfLifeMs: number,
  stake = NEUTRAL_STAKE_SCORE,
): number {
  const latency = node.latency_ms === null ? 0.5 : 1 / (1 + node.latency_ms / 1000);
  const load = Math.max(0, 1 - inFlight / capacity);
  const rep = reputationScore(reputationOf(node), now, halfLifeMs);
  const w = SCORE_WEIGHTS;
  return w.latency * latency + w.load * load + w.reputation * rep + w.stake * stake;
}

/** A node's stake score from its bond as last read (neutral without a chain). */
function stakeScoreOf(s: Services, node: NodeRow): number {
  return s.bonds ? stakeScore(s.bonds.stake(node.public_key), s.bonds.minStake) : NEUTRAL_STAKE_SCORE;
}

/** True when a node may be given tasks: its key's bond is active (always, without a chain). */
function bonded(s: Services, node: NodeRow): boolean {
  return !s.bonds || s.bonds.eligible(node.public_key);
}

function inFlightCounts(s: Services): Map<string, number> {
  const rows = prepared(
    s.store.sqlite,
    "select inference_node_id as node, count(*) as n from inference_tasks where status = 'in_progress' group by inference_node_id",
  ).all() as { node: string | null; n: number }[];
  return new Map(rows.map((r) => [r.node ?? '', r.n]));
}

/** The JSON fragment by which a task's votes name a node. */
const voteOf = (nodeId: string) => `"node_id":${JSON.stringify(nodeId)}`;

/** True when the node already ran this task (one of its votes): it never runs it again. */
function ranIt(task: TaskRow, nodeId: string): boolean {
  return task.votes?.includes(voteOf(nodeId)) ?? false;
}

/** A node may take this many candidates into account per pull, besides the tasks it asks for. */
const CANDIDATES = 32;

/**
 * Candidates per dialect, side by side: the same filter and order. PostgreSQL has strpos for
 * instr, and locks the rows it returns, skipping rows another replica's pull holds: the pull
 * then leases them under its lock (no other pull can take them meanwhile) and never waits.
 */
const CANDIDATES_SQL = {
  sqlite:
    "select * from inference_tasks where status = 'pending' and artifact_hash = ? and (deadline is null or deadline > ?) and (votes is null or instr(votes, ?) = 0) and (trusted_only = 0 or ? = 1) and (privacy != 'encrypted' or exists (select 1 from sealed_inputs si where si.input_hash = inference_tasks.input_hash and si.node_id = ? and si.holder = inference_tasks.user_address)) order by priority desc, created_at asc limit ?",
  postgres:
    "select * from inference_tasks where status = 'pending' and artifact_hash = ? and (deadline is null or deadline > ?) and (votes is null or strpos(votes, ?) = 0) and (trusted_only = 0 or ? = 1) and (privacy != 'encrypted' or exists (select 1 from sealed_inputs si where si.input_hash = inference_tasks.input_hash and si.node_id = ? and si.holder = inference_tasks.user_address)) order by priority desc, created_at asc limit ? for update of inference_tasks skip locked",
} as const;

/**
 * PostgreSQL: the pulling node's row, locked until the pull commits, so that another replica's
 * pull for the same node waits and then counts what this one leased (SQLite serializes writers).
 */
const LOCK_NODE_SQL = 'select * from inference_nodes where node_id = ? for update';

/**
 * A pull on PostgreSQL runs READ COMMITTED: after waiting for the node's lock it must see what
 * the pull it waited for leased (a REPEATABLE READ snapshot would predate it), and the rows it
 * leases are locked, so no lost update can slip in.
 */
const LEASE_TX = { isolation: 'read committed' } as const;

/**
 * The first pending tasks of the given models that `nodeId` has not run yet, by priority then age
 * (one index range per model); trusted-only tasks only for a node marked trusted.
 */
function candidatesFor(s: Services, nodeId: string, trusted: boolean, models: string[], limit: number): TaskRow[] {
  // Without a known tip every deadline passes the filter (heights are never negative).
  const tip = s.chain.tipHeight ?? -1;
  const query = prepared(
    s.store.sqlite,
    s.store.dialect === 'postgres' ? CANDIDATES_SQL.postgres : CANDIDATES_SQL.sqlite,
  );
  // A task that needs several nodes never runs twice on one: its votes name the nodes that ran it.
  // An L2 input in clear text (trusted_only) goes only to a node the operator marked trusted.
  // An encrypted task goes only to a node its requester sealed the input to (signer/privacy).
  const rows = models.flatMap(
    (model) => query.all(model, tip, voteOf(nodeId), trusted ? 1 : 0, nodeId, limit) as TaskRow[],
  );
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
  const pg = s.store.dialect === 'postgres';
  const pull = (): TaskRow[] => {
    const locked = pg ? (prepared(s.store.sqlite, LOCK_NODE_SQL).get(nodeId) as NodeRow | undefined) : undefined;
    if (pg && !locked) return [];
    const online = (
      prepared(s.store.sqlite, "select * from inference_nodes where status = 'online'").all() as NodeRow[]
    ).filter((n) => bonded(s, n));
    // A busy node that asks for work has room again (its heartbeat can be up to an interval old); the cap below still holds.
    const me =
      online.find((n) => n.node_id === nodeId) ??
      (locked
        ? locked.status === 'busy'
          ? locked
          : undefined
        : (prepared(s.store.sqlite, "select * from inference_nodes where node_id = ? and status = 'busy'").get(
            nodeId,
          ) as NodeRow | undefined));
    if (!me || !bonded(s, me)) return [];
    const nodes = online.includes(me) ? online : [...online, me];
    const load = inFlightCounts(s);
    const room = Math.min(max, cap - (load.get(nodeId) ?? 0));
    if (room <= 0) return [];
    // Tasks are only passed over for another online node: alone, a node takes the first `room`.
    const candidates = candidatesFor(
      s,
      nodeId,
      me.trusted === 1,
      [...new Set<string>(JSON.parse(me.supported_models))],
      nodes.length > 1 ? CANDIDATES + room : room,
    );
    const loadOf = (n: NodeRow) => load.get(n.node_id) ?? 0;
    const score = (n: NodeRow) =>
      scoreNode(n, loadOf(n), cap, now, scheduler.reputation_half_life_ms, stakeScoreOf(s, n));
    const leased: TaskRow[] = [];
    for (const task of candidates) {
      if (leased.length >= room) break;
      let mine: number | undefined;
      // Only nodes it was sealed to can run an encrypted task: there is no better node to wait for among the others.
      if (now - task.created_at < scheduler.prefer_better_node_ms && task.privacy !== 'encrypted') {
        mine = score(me);
        const better = nodes.some(
          (n) =>
            n !== me &&
            (task.trusted_only === 0 || n.trusted === 1) &&
            !ranIt(task, n.node_id) &&
            loadOf(n) < cap &&
            JSON.parse(n.supported_models).includes(task.artifact_hash) &&
            score(n) > mine! * 1.1,
        );
        if (better) continue;
      }
      leased.push(
        transition(
          s.store,
          task.task_id,
          'in_progress',
          {
            reason: `leased to ${nodeId} (attempt ${task.attempts + 1}${mine === undefined ? '' : `, score ${mine.toFixed(3)}`})`,
            nodeId,
            expect: ['pending'],
            now,
          },
          {
            inference_node_id: nodeId,
            attempts: task.attempts + 1,
            leased_at: now,
            lease_expires_at: now + scheduler.max_infer_time_ms,
          },
          task,
        ),
      );
      load.set(nodeId, loadOf(me) + 1);
    }
    return leased;
  };
  return pg ? atomic(s.store.sqlite, pull, LEASE_TX) : atomic(s.store.sqlite, pull);
}
