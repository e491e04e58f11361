/**
 * Background work of a running signer: the sweeper (leases, heartbeats, deadlines), the input
 * sweep (blobs no task needs), the chain watcher and the submitter. Each is a sequential loop
 * (the next run starts after the previous one ends) whose errors are logged and retried, never fatal.
 */
import type { Chain } from './chain/index.js';
import { pollEvents, pollTip, readCursor } from './chain/index.js';
import { submitterTick } from './chain/index.js';
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
        s.log.error({ err, loop: name }, `${name} step failed; retrying`);
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

/** Starts the sweeper and the input sweep, and with a chain the watcher, the bond checks, the submitter and the period loop. */
export function startLoops(s: Services, chain: Chain | null): Loop[] {
  const loops = [
    every('sweeper', s.config.scheduler.sweep_interval_ms, s, () => sweep(s)),
    // Input blobs no task needs any more (signer/uploads): a slower pass than the sweeper's, which runs every second.
    every('input-sweep', s.config.inputs.gc_interval_ms, s, () => collectInputs(s)),
  ];
  // Prepaid receipts (signer/accounts): results turn due, failures and expired requests release their reservation.
  if (s.accounts)
    loops.push(every('prepaid-receipts', s.config.scheduler.sweep_interval_ms, s, () => s.accounts!.tick()));
  if (chain) {
    s.chain.tipHeight = readCursor(s).tipHeight;
    loops.push(
      every('watcher', s.config.chain.poll_interval_ms, s, async () => {
        await pollTip(s, chain);
        await pollEvents(s, chain);
      }),
      every('bonds', s.config.chain.bond_check_interval_ms, s, () => refreshBonds(s)),
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
