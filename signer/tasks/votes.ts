/**
 * Redundant runs (DESIGN.md §6a): a task of security level 3 or 5 runs on that many distinct
 * nodes, and a sampled share of level-1 tasks runs on a second node before it settles. Each
 * node's signed result is a vote; outputs are compared by their hash, which nodes take over the
 * canonical form (floats rounded to the task's precision), so honest nodes agree byte for byte.
 * The majority settles through `settle-redundant`, which slashes the other keys on chain.
 */
import { randomInt } from 'node:crypto';
import type { PrivacyMode } from '../../protocol/index.js';

/** One node's signed result for a task. */
export interface Vote {
  node_id: string;
  public_key: string;
  output_hash: string;
  signature: string;
  confidence: number | null;
  /** The output as JSON text; kept once per distinct output hash. */
  output: string | null;
  /** Encrypted tasks: the node's signature over its sealed output (kept with the output it signs). */
  sealed_signature?: string;
}

/** Most results one task may gather: settle-redundant takes five. */
export const MAX_RUNS = 5;

/** Parses the votes column. */
export function readVotes(json: string | null): Vote[] {
  return json ? (JSON.parse(json) as Vote[]) : [];
}

/** Nodes a `federated` task runs on at least (DESIGN.md §6): its results are compared like a level-3 task's. */
export const FEDERATED_RUNS = 3;

/**
 * How many runs a new chain task needs: its security level (at least FEDERATED_RUNS in the
 * federated privacy mode), or for level 1 a second run with probability sample_bps / 10000.
 * The draw is the signer's secret: a node cannot tell a check from a first run, so it cannot
 * cheat only where nobody looks.
 */
export function runsFor(security: number, sampleBps: number, privacy: PrivacyMode = 'standard'): number {
  if (privacy === 'federated') return Math.max(security, FEDERATED_RUNS);
  if (security > 1) return security;
  return randomInt(10_000) < sampleBps ? 2 : 1;
}

/** The output hash signed by more than half of the votes, with its count; null when none. */
export function majorityOf(votes: readonly Vote[]): { outputHash: string; count: number } | null {
  const counts = new Map<string, number>();
  for (const v of votes) counts.set(v.output_hash, (counts.get(v.output_hash) ?? 0) + 1);
  for (const [outputHash, count] of counts) if (count * 2 > votes.length) return { outputHash, count };
  return null;
}

/**
 * What to do once `runs_needed` votes are in: settle on the majority, or ask more nodes when
 * none has one (a 1-1 spot check takes a third; a 1-1-1 level-3 split takes five), or give up
 * at five.
 */
export function decide(
  votes: readonly Vote[],
):
  | { kind: 'settle'; outputHash: string; dissenters: Vote[] }
  | { kind: 'more'; runs: number }
  | { kind: 'no_majority' } {
  const majority = majorityOf(votes);
  if (majority)
    return {
      kind: 'settle',
      outputHash: majority.outputHash,
      dissenters: votes.filter((v) => v.output_hash !== majority.outputHash),
    };
  if (votes.length >= MAX_RUNS) return { kind: 'no_majority' };
  return { kind: 'more', runs: Math.min(MAX_RUNS, votes.length % 2 === 0 ? votes.length + 1 : votes.length + 2) };
}

/** Adds a vote; its output is kept only when no earlier vote carried the same hash. */
export function addVote(json: string | null, vote: Vote): Vote[] {
  const votes = readVotes(json);
  const known = votes.some((v) => v.output_hash === vote.output_hash && v.output !== null);
  return [...votes, { ...vote, output: known ? null : vote.output }];
}

/** The output text of the votes for `outputHash`. */
export function outputOf(votes: readonly Vote[], outputHash: string): string | null {
  return votes.find((v) => v.output_hash === outputHash && v.output !== null)?.output ?? null;
}
