/**
 * Which model a request names: its live version from the catalog (the chain's registry, or the
 * console's published uploads without a chain), and the nodes serving it.
 */
import { eq } from 'drizzle-orm';
import type { ModelHead } from '../catalog/index.js';
import { inferenceNodes } from '../db/index.js';
import { ApiError } from '../errors.js';
import type { Services } from '../services.js';
import type { TaskRow } from '../tasks/index.js';

/** The live version of `name`; 404 naming the published models when there is none. */
export async function liveModel(s: Pick<Services, 'catalog'>, name: string): Promise<ModelHead> {
  const head = await s.catalog.head(name);
  if (head) return head;
  const names = (await s.catalog.list()).map((h) => h.name);
  const known = names.length ? `published models: ${names.join(', ')}` : 'no model is published yet';
  throw new ApiError('not_found', `model "${name}" is not published (unknown, unpublished or retired); ${known}`);
}

/** How many online nodes serve an artifact. */
export function onlineNodesServing(s: Pick<Services, 'store'>, artifactHash: string): number {
  const nodes = s.store.db
    .select({ models: inferenceNodes.supported_models })
    .from(inferenceNodes)
    .where(eq(inferenceNodes.status, 'online'))
    .all();
  return nodes.filter((n) => (JSON.parse(n.models) as string[]).includes(artifactHash)).length;
}

/** Why a direct task timed out, in words the caller can act on. */
export function timeoutMessage(s: Pick<Services, 'store'>, task: TaskRow): string {
  const within = `no node answered model "${task.model_type}" within ${task.max_infer_time} ms`;
  const where =
    task.status === 'in_progress'
      ? `node ${task.inference_node_id} was still running it`
      : 'it was still waiting in the queue';
  const serving = onlineNodesServing(s, task.artifact_hash);
  const advice =
    serving === 0
      ? `no online node serves this model (artifact ${task.artifact_hash.slice(0, 12)}…) right now; retry once a node serving it is online`
      : `${serving} online node(s) serve it but were busy; retry later, with a higher priority, or with a longer timeout_ms`;
  return `${within} (${where}): ${advice}`;
}
