/**
 * Every model the registry knows, whoever deployed it, as the console's Models page lists it:
 * its live version (or none, once retired), owner, price and version history, and whether the
 * signer's own account owns it (only then can the console upgrade, roll back or retire it).
 */
import type { ModelHead, ModelVersion } from '../catalog/index.js';
import type { Services } from '../services.js';

/** One model name on chain. */
export interface ChainModel {
  name: string;
  /** The live version, or null when the model is retired (or could not be read). */
  head: ModelHead | null;
  /** Every version, newest first. */
  versions: ModelVersion[];
  /** Owner of the newest version; null when it could not be read. */
  owner: string | null;
  /** Owned by the signer's account (without a chain: every published upload is the console's). */
  owned: boolean;
  /** Why this name could not be read from the chain, when it could not. */
  error?: string;
}

/** The registry's models, or why they could not be listed. */
export interface ChainModels {
  models: ChainModel[];
  error: string | null;
}

/** The head and versions of one name, or why they could not be read. */
export async function modelHistory(s: Services, name: string): Promise<ChainModel> {
  const operator = s.catalog.chain?.address ?? null;
  try {
    const [head, versions] = await Promise.all([s.catalog.head(name), s.catalog.versions(name)]);
    const owner = versions[0]?.owner ?? head?.owner ?? null;
    return { name, head, versions, owner, owned: operator === null || owner === operator };
  } catch (err) {
    return {
      name,
      head: null,
      versions: [],
      owner: null,
      owned: false,
      error: `could not read ${name} from the chain: ${(err as Error).message}`,
    };
  }
}

/** Every model name ever created on chain, with its history, sorted by name. */
export async function chainModels(s: Services): Promise<ChainModels> {
  let names: string[];
  try {
    names = await s.catalog.names();
  } catch (err) {
    return {
      models: [],
      error: `the models on chain could not be listed (${(err as Error).message}); check chain.api_url`,
    };
  }
  return { models: await Promise.all(names.map((n) => modelHistory(s, n))), error: null };
}
