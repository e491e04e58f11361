/**
 * The chain watcher: reads `task-submitted` events after the persisted cursor and creates one
 * pending task per event. Tasks and the cursor move in one SQL transaction, and a task id seen
 * twice is skipped, so a crash or a re-read never creates a task twice.
 */
import { privacyMode, type PrivacyMode } from '../../protocol/index.js';
import { chainCursor, prepared } from '../db/index.js';
import { fenced } from '../cluster/index.js';
import type { Services } from '../services.js';
import { guardStoredInput, modelLevel, trustedOnlyTask } from '../guard/index.js';
import { createTask, transition } from '../tasks/index.js';
import { runsFor } from '../tasks/index.js';
import type { Chain, TaskSubmittedEvent } from './types.js';

const PAGE = 200;

/** Reads the persisted cursor and tip of the escrow's event stream. */
export function readCursor(s: Services): { cursor: string | null; tipHeight: number | null } {
  // Read on every poll: SQL prepared once rather than built by drizzle each time.
  const row = prepared(s.store.sqlite, 'select cursor, tip_height from chain_cursor where id = ?').get(s.escrow) as
    | { cursor: string | null; tip_height: number | null }
    | undefined;
  return { cursor: row?.cursor ?? null, tipHeight: row?.tip_height ?? null };
}

function privacyOf(s: Services, code: number): PrivacyMode {
  try {
    return privacyMode(code);
  } catch {
    return s.config.network.default_privacy_mode;
  }
}

/** Ingests one page of events in one transaction, fenced (the leader's); returns how many tasks were new. */
export function ingest(s: Services, events: TaskSubmittedEvent[], cursor: string | null, now = Date.now()): number {
  return fenced(s.store, s.leader.epoch, () => {
    let created = 0;
    for (const e of events) {
      const id = e.chainTaskId.toString();
      // An L2 model's clear-text input goes to trusted nodes only: decided here, from the model and
      // privacy mode fixed on chain (the upload may come before or after, and names its model itself).
      const privacy = privacyOf(s, e.privacy);
      const level = modelLevel(s.store, s.guard, e.model);
      const trustedOnly = trustedOnlyTask(s.guard, level, privacy);
      const fresh = createTask(
        s.store,
        {
          task_id: id,
          chain_task_id: id,
          user_address: e.requester,
          fee: e.fee.toString(),
          infer_fee: e.fee.toString(),
          max_infer_time: s.config.scheduler.max_infer_time_ms,
          model_type: e.model,
          model_output: e.modelOutput.toString(),
          artifact_hash: e.artifactHash.toLowerCase(),
          input_hash: e.inputHash.toLowerCase(),
          deadline: Number(e.deadline),
          privacy,
          priority: e.priority,
          security: e.security,
          precision: e.precision,
          sample_bps: e.sampleBps,
          runs_needed: runsFor(e.security, e.sampleBps, privacy),
          submit_txid: e.txid,
          submit_block_height: e.blockHeight,
          trusted_only: trustedOnly ? 1 : 0,
        },
        `task-submitted in tx ${e.txid} at block ${e.blockHeight}${trustedOnly ? '; L2 input in clear text: only a node the operator marked trusted may run it' : ''}`,
        now,
      );
      if (!fresh) continue;
      created++;
      // An input uploaded first was read at the level its upload named: read again at a stricter
      // task's level, and a refusal fails the task before any node is offered it (guard/stored.ts).
      const inputHash = e.inputHash.toLowerCase();
      const refused = guardStoredInput(
        s.store,
        s.guard,
        { taskId: id, model: e.model, inputHash, privacy },
        level,
        now,
      );
      if (refused) transition(s.store, id, 'failed', { reason: refused, expect: ['pending'], now }, { error: refused });
    }
    s.store.db
      .insert(chainCursor)
      .values({ id: s.escrow, cursor, updated_at: now })
      .onConflictDoUpdate({ target: chainCursor.id, set: { cursor, updated_at: now } })
      .run();
    return created;
  });
}

/** Reads every new event, up to PAGE tasks per SQL transaction; returns how many tasks were created. */
export async function pollEvents(s: Services, chain: Chain): Promise<number> {
  let created = 0;
  for (;;) {
    const { cursor } = readCursor(s);
    const page = await chain.readTaskEvents(cursor, PAGE);
    if (page.events.length === 0 && page.cursor === cursor) break;
    created += ingest(s, page.events, page.cursor);
    if (!page.more) break;
  }
  if (created > 0) {
    s.log.info({ created }, 'tasks ingested from chain');
    s.pending.notify();
  }
  return created;
}

/** Reads the chain tip and remembers it (deadlines are judged against it; followers read it from chain_cursor). */
export async function pollTip(s: Services, chain: Chain, now = Date.now()): Promise<number> {
  const tip = await chain.tipHeight();
  s.chain.tipHeight = tip;
  fenced(s.store, s.leader.epoch, () =>
    prepared(
      s.store.sqlite,
      'insert into chain_cursor (id, tip_height, updated_at) values (?, ?, ?) on conflict (id) do update set tip_height = excluded.tip_height, updated_at = excluded.updated_at',
    ).run(s.escrow, tip, now),
  );
  return tip;
}
