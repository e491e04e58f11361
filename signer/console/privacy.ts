/**
 * What the console's Privacy page reads and writes: each known model's data level (model_policies;
 * no row: the guard's default_level) and which nodes are trusted (inference_nodes.trusted: the node
 * may run L2 inputs in clear text; set with signer/nodes setTrusted). The guard (signer/guard) reads
 * both; only the console sets them.
 */
import { asc, eq } from 'drizzle-orm';
import { z } from 'zod';
import { DATA_LEVELS, type DataLevel } from '../../protocol/index.js';
import { consoleModels, inferenceNodes, modelPolicies, type SignerDatabase } from '../db/index.js';
import { ApiError } from '../errors.js';
import type { Services } from '../services.js';

/** A level as a form sends it: L0, L1, L2, or `default` (the model or token then has no level of its own). */
export const levelChoice = z.enum(['default', ...DATA_LEVELS] as const, {
  error: () => `must be one of default, ${DATA_LEVELS.join(', ')}`,
});
export type LevelChoice = z.infer<typeof levelChoice>;

/** A model the signer knows, with the level set for it (null: the guard's default_level). */
export interface ModelLevel {
  name: string;
  level: DataLevel | null;
  /** Where the name comes from: the on-chain catalog, a console upload, or only a level set earlier. */
  sources: ('chain' | 'upload' | 'policy')[];
}

/** The known models and their levels; `error` says why the catalog could not be read (uploads still list). */
export interface ModelLevels {
  models: ModelLevel[];
  error: string | null;
}

/** Every model name on chain (or published here, without a chain), every upload, and every name with a level. */
export async function modelLevels(s: Pick<Services, 'catalog' | 'store'>): Promise<ModelLevels> {
  const byName = new Map<string, ModelLevel>();
  const add = (name: string, source: ModelLevel['sources'][number], level: DataLevel | null = null) => {
    const m = byName.get(name) ?? { name, level: null, sources: [] };
    if (!m.sources.includes(source)) m.sources.push(source);
    if (level) m.level = level;
    byName.set(name, m);
  };
  let error: string | null = null;
  try {
    for (const name of await s.catalog.names()) add(name, 'chain');
  } catch (err) {
    error = `the models on chain could not be listed (${(err as Error).message}); uploads and levels already set are shown`;
  }
  const db = s.store.db;
  for (const r of db.selectDistinct({ name: consoleModels.name }).from(consoleModels).all()) add(r.name, 'upload');
  for (const p of db.select().from(modelPolicies).all()) add(p.model, 'policy', p.data_level as DataLevel);
  return { models: [...byName.values()].sort((a, b) => a.name.localeCompare(b.name)), error };
}

/** Model names as the registry and the console take them (1-128 characters, no control characters). */
const modelName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[^\p{Cc}]+$/u);

/** Sets a model's level, or removes it (`default`): the guard then uses its default_level for the model. */
export function setModelLevel(store: SignerDatabase, model: string, choice: LevelChoice, now = Date.now()): void {
  if (!modelName.safeParse(model).success)
    throw new ApiError('bad_request', `"${model.slice(0, 80)}" is not a model name (1-128 printable characters)`);
  if (choice === 'default') {
    store.db.delete(modelPolicies).where(eq(modelPolicies.model, model)).run();
    return;
  }
  store.db
    .insert(modelPolicies)
    .values({ model, data_level: choice, updated_at: now })
    .onConflictDoUpdate({ target: modelPolicies.model, set: { data_level: choice, updated_at: now } })
    .run();
}

/** A registered node as the Privacy page lists it. */
export interface NodeTrust {
  node_id: string;
  status: string;
  endpoint: string;
  last_heartbeat: number;
  trusted: boolean;
}

/** Every registered node, by id, with its trusted flag. */
export function nodeTrust(store: SignerDatabase): NodeTrust[] {
  return store.db
    .select({
      node_id: inferenceNodes.node_id,
      status: inferenceNodes.status,
      endpoint: inferenceNodes.endpoint,
      last_heartbeat: inferenceNodes.last_heartbeat,
      trusted: inferenceNodes.trusted,
    })
    .from(inferenceNodes)
    .orderBy(asc(inferenceNodes.node_id))
    .all()
    .map((n) => ({ ...n, trusted: n.trusted === 1 }));
}
