/**
 * The guard on PUT /api/v1/inputs/{sha256}: the input of a chain task (or of a prepaid request)
 * whose hash is fixed, so a finding is refused rather than masked (hashed.ts). `market submit`
 * uploads before it pays, so a refusal there costs no fee.
 *
 * The level (an upload has no API token, so models' levels only): the stricter of the model the
 * upload names (`?model=`, which `market` sends) and the models of the chain tasks already waiting for this input (fixed on chain, so a client cannot
 * choose a laxer one for them); the guard's default_level when there is neither. An input that
 * only encrypted tasks wait for is ciphertext and not read. The level read at is returned, for the
 * route to record with the blob (stored.ts): a chain task of a stricter model has it read again.
 */
import { stricterLevel, type DataLevel } from '../../protocol/index.js';
import { prepared } from '../db/index.js';
import type { Services } from '../services.js';
import { modelLevel } from './apply.js';
import { guardHashedInput } from './hashed.js';
import { clearTextRoute } from './trusted.js';

/** The chain tasks still waiting for an input: their models and privacy modes. */
function waitingTasks(s: Pick<Services, 'store'>, sha256: string): { model: string; privacy: string }[] {
  return prepared(
    s.store.sqlite,
    "select distinct model_type as model, privacy from inference_tasks where input_hash = ? and source = 'chain' and status not in ('settled', 'timeout', 'failed')",
  ).all(sha256) as { model: string; privacy: string }[];
}

/**
 * Guards an upload before it is stored; throws 422 policy_refused (a finding), or, for an L2 input
 * no task has paid for yet, policy_needs_encryption / policy_needs_trusted_node (no node may run
 * it in clear text: better said now than after the fee). Returns the level it was read at, or null
 * when it was not read (guard off, or only encrypted tasks wait for it).
 */
export async function guardUpload(
  s: Pick<Services, 'store' | 'guard' | 'catalog'>,
  sha256: string,
  bytes: Uint8Array,
  model: string | undefined,
  now = Date.now(),
): Promise<DataLevel | null> {
  if (!s.guard.enabled) return null;
  const waiting = waitingTasks(s, sha256);
  if (waiting.length > 0 && waiting.every((t) => t.privacy === 'encrypted')) return null;
  const models = [...new Set([...(model ? [model] : []), ...waiting.map((t) => t.model)])];
  const level = models.reduce<DataLevel | null>((lv, m) => {
    const l = modelLevel(s.store, s.guard, m);
    return lv === null ? l : stricterLevel(lv, l);
  }, null);
  const at = level ?? s.guard.defaultLevel;
  guardHashedInput(
    s.store,
    s.guard,
    { tokenId: null, model: models.join(', ') || '(none named)', requestId: `input:${sha256}` },
    bytes,
    at,
    now,
  );
  if (at !== 'L2' || waiting.length > 0 || !model) return at;
  const head = await s.catalog.head(model);
  if (head) clearTextRoute(s.store, s.guard, at, { name: head.name, artifactHash: head.artifact_hash });
  return at;
}
