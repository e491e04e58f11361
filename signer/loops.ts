/**
 * Background work of a running signer: the sweeper (leases, heartbeats, deadlines), the input
 * sweep (blobs no task needs), the chain watcher and the submitter. Each is a sequential loop
 * (the next run starts after the previous one ends) whose errors are logged and retried, never fatal.
 * Most of it is the leader's alone (signer/cluster): a SQLite signer always leads; replicas on
 * PostgreSQL run it on whichever holds the lead, and the rest on every replica.
 */
import type { Chain } from './chain/index.js';
import { openNonces, pollEvents, pollTip, readCursor } from './chain/index.js';
import { submitterTick } from './chain/index.js';
import { FencedError, campaign, isPostgres, type Term } from './cluster/index.js';
import type { Services } from './services.js';
import { sweep } from './tasks/index.js';
import { collectInputs } from './uploads/index.js';
import { refreshBonds } from './nodes/index.js';
import { accountsTick } from './accounts/index.js';
import { accountsEnabled } from './config/index.js';

/** A stoppable background loop. */
export interface Loop {
  stop(): Promise<void>;
}

/** Runs `step` every `intervalMs` until stopped; `stop` waits for a step in progress. */
export function every(name: string, intervalMs: number, s: Services, step: () => Promise<unknown> | unknown): Loop {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const run = () => {
    running = (async () => {
      try {
        await step();
      } catch (err) {
        // A replica that just lost the lead: its loops are being stopped, nothing failed.
        if (err instanceof FencedError) s.log.warn({ loop: name, err: err.message }, `${name} step fenced out`);
        else s.log.error({ err, loop: name }, `${name} step failed; retrying`);
      }
      if (!stopped) timer = setTimeout(run, intervalMs);
    })();
  };
  timer = setTimeout(run, 0);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

/**
 * The leader's loops. Every one of them changes shared rows, where a second replica would only
 * race the first (double transitions, two settlements for one batch), or spends the signer's
 * nonces; one replica doing each for all is enough:
 * - sweeper: leases, heartbeats and deadlines of every node and task are rows in the shared database;
 * - input sweep: the blobs are rows there too;
 * - prepaid receipts: reconciles receipts of tasks ended on any replica (each replica's own
 *   `attempts` listener still marks its completions at once; this pass catches the rest);
 * - watcher, submitter, accounts: chain reads turned into rows, and transactions signed with the
 *   signer's nonces, which must come from one sequence (fenced writes, cluster/fence.ts).
 * On taking the lead the nonce sequence starts afresh above the open settlements' nonces.
 */
export function leaderLoops(s: Services, chain: Chain | null): Loop[] {
  const loops = [
    every('sweeper', s.config.scheduler.sweep_interval_ms, s, () => sweep(s)),
    // Input blobs no task needs any more (signer/uploads): a slower pass than the sweeper's, which runs every second.
    every('input-sweep', s.config.inputs.gc_interval_ms, s, () => collectInputs(s)),
  ];
  // Prepaid receipts (signer/accounts): results turn due, failures and expired requests release their reservation.
  if (s.accounts)
    loops.push(every('prepaid-receipts', s.config.scheduler.sweep_interval_ms, s, () => s.accounts!.tick()));
  if (chain) {
    // Another replica may have built transactions since this one last led (or this process before a restart).
    chain.resetNonces?.(() => openNonces(s));
    s.chain.tipHeight = readCursor(s).tipHeight;
    loops.push(
      every('watcher', s.config.chain.poll_interval_ms, s, async () => {
        await pollTip(s, chain);
        await pollEvents(s, chain);
      }),
      every(
        'submitter',
        Math.min(s.config.submitter.confirm_poll_ms, Math.max(50, s.config.submitter.max_wait_ms)),
        s,
        () => submitterTick(s, chain),
      ),
    );
    // Prepaid accounts (signer/accounts): settle each period, follow it, re-read accounts (a few SQL reads a tick when idle).
    if (accountsEnabled(s.config))
      loops.push(every('accounts', s.config.submitter.confirm_poll_ms, s, () => accountsTick(s, chain)));
  }
  return loops;
}

/**
 * The loops of every replica: node bonds are kept in memory and every replica schedules with
 * them; and on PostgreSQL a follower's chain tip, read from chain_cursor where the leader's
 * watcher writes it (deadlines are judged against it when leasing and completing).
 */
export function replicaLoops(s: Services, chain: Chain | null): Loop[] {
  if (!chain) return [];
  const loops = [every('bonds', s.config.chain.bond_check_interval_ms, s, () => refreshBonds(s))];
  if (isPostgres(s.store)) {
    s.chain.tipHeight = readCursor(s).tipHeight;
    loops.push(
      every('tip', s.config.chain.poll_interval_ms, s, () => {
        if (!s.leader.isLeader()) s.chain.tipHeight = readCursor(s).tipHeight;
      }),
    );
  }
  return loops;
}

/**
 * Starts the background work: on SQLite all of it at once (a single signer leads); on PostgreSQL
 * the replica loops, and a campaign that runs the leader's loops while this replica leads.
 */
export function startLoops(s: Services, chain: Chain | null): Loop[] {
  if (!isPostgres(s.store)) return [...leaderLoops(s, chain), ...replicaLoops(s, chain)];
  const lead = (): Term => {
    const loops = leaderLoops(s, chain);
    return { stop: async () => void (await Promise.all(loops.map((l) => l.stop()))) };
  };
  return [
    ...replicaLoops(s, chain),
    campaign(s.leader, { retryMs: s.config.cluster.leader_retry_ms, log: s.log, lead }),
  ];
}
