/**
 * Signer replicas on one PostgreSQL (issue 15): the leader election (leader.ts), fencing of the
 * leader's writes (fence.ts), and the campaign loop that starts and stops the leader-only work as
 * this replica gains and loses the lead.
 */
import type { Logger } from 'pino';
import type { Leader } from './leader.js';

export { FencedError, fenced, isPostgres, type ClusterStore } from './fence.js';
export { ElectedLeader, SoloLeader, createLeader, holderOf, leaseEpoch, takeLease, type Leader } from './leader.js';

/** What runs while this replica leads: started on taking the lead, stopped on losing it. */
export interface Term {
  stop(): Promise<void>;
}

/** Options of `campaign`. */
export interface CampaignOptions {
  /** How often a follower tries to take the lead (cluster.leader_retry_ms). */
  retryMs: number;
  /** How often the leader checks it still leads. */
  checkMs?: number;
  log: Logger;
  /** Starts the leader-only work at `epoch`. */
  lead(epoch: number): Term;
}

/**
 * Runs the election for this replica: a follower tries to take the lead every `retryMs`; the
 * leader checks every `checkMs` (1 s) that it still holds it and, the moment it does not, stops
 * its leader-only work (its epoch is already 0, so a write in flight is fenced out). `stop`
 * ends the term and gives the lead up, so another replica takes it within its retry interval.
 */
export function campaign(leader: Leader, opts: CampaignOptions): Term {
  const checkMs = opts.checkMs ?? 1_000;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let term: Term | null = null;
  let running: Promise<void> = Promise.resolve();
  const step = async () => {
    if (term) {
      if (leader.stillLeads()) return;
      opts.log.warn('leadership lost: leader-only loops stopped');
      const ended = term;
      term = null;
      await ended.stop();
      return;
    }
    try {
      if (!leader.tryLead()) return;
    } catch (err) {
      opts.log.error({ err }, 'taking the lead failed; retrying');
      return;
    }
    opts.log.info({ epoch: leader.epoch }, 'leading: watching the chain and submitting settlements');
    term = opts.lead(leader.epoch);
  };
  const run = () => {
    running = (async () => {
      try {
        await step();
      } catch (err) {
        opts.log.error({ err }, 'leader election step failed; retrying');
      }
      if (!stopped) timer = setTimeout(run, term ? checkMs : opts.retryMs);
    })();
  };
  timer = setTimeout(run, 0);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      await term?.stop();
      term = null;
      leader.resign();
    },
  };
}
