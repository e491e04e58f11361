/**
 * The model catalog: which models this signer can run, at what price, and their version
 * history. With a chain it is the model-registry (read-only calls, cached for a few seconds);
 * without one (API-only signers, unit tests) it is the console's published uploads.
 */
import { ClarityType, type ClarityValue } from '@stacks/transactions';
import { and, desc, eq, inArray } from 'drizzle-orm';
import { INFERENCE_ESCROW } from '../../protocol/index.js';
import type { Chain } from '../chain/index.js';
import { consoleModels, type SignerDatabase } from '../db/index.js';
import { RegistryReader, readOnly, type RegistryOutput } from './registry.js';

export { explainAbort, sendRegistryCall, type MinedCall, type SendOptions } from './publish.js';
export { readOnly } from './registry.js';

/** The live version of a model. */
export interface ModelHead {
  name: string;
  /** Registry output id (decimal); `console:<row id>` for an unpublished-on-chain console row. */
  output_id: string;
  artifact_hash: string;
  version: number;
  /** micro-STX per call (decimal string: may exceed 2^53). */
  price: string;
  owner: string;
  format: string;
  uri: string;
  /** Where this head was read: the chain's registry, or the console's table when there is no chain. */
  source: 'chain' | 'console';
}

/** One version in a model's history, newest first. */
export interface ModelVersion {
  output_id: string;
  version: number;
  artifact_hash: string;
  price: string;
  owner: string;
  format: string;
  uri: string;
  /** Spent by a later version or retired. */
  spent: boolean;
  /** The model was unpublished at this version (no later version exists). */
  retired: boolean;
  /** This is the model's head. */
  live: boolean;
}

/** The escrow's revenue split (basis points of each fee). */
export interface Shares {
  owner_bps: number;
  treasury_bps: number;
}

/** Options of the catalog. */
export interface CatalogOptions {
  store: SignerDatabase;
  /** The chain whose registry is the catalog; null to use published console uploads. */
  chain: Chain | null;
  /** How long a head, the list and the shares are reused before being read again (ms). */
  cacheMs: number;
}

/**
 * A value per key kept for `ttlMs`; the promise itself is cached so concurrent readers share one
 * read. Hand-written: a dozen lines, where a cache package would add a dependency for no gain.
 */
class TtlCache<V> {
  readonly #entries = new Map<string, { at: number; value: Promise<V> }>();
  constructor(private readonly ttlMs: number) {}

  get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.#entries.get(key);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.value;
    const entry = { at: Date.now(), value: load() };
    this.#entries.set(key, entry);
    // A failed read is not cached; a newer entry stored meanwhile stays.
    entry.value.catch(() => this.#entries.get(key) === entry && this.#entries.delete(key));
    return entry.value;
  }

  delete(key?: string): void {
    if (key === undefined) this.#entries.clear();
    else this.#entries.delete(key);
  }
}

function fromOutput(o: RegistryOutput): Omit<ModelVersion, 'retired' | 'live'> {
  return {
    output_id: o.outputId.toString(),
    version: Number(o.version),
    artifact_hash: o.artifactHash,
    price: o.price.toString(),
    owner: o.owner,
    format: o.format,
    uri: o.uri,
    spent: o.spent,
  };
}

type ConsoleRow = typeof consoleModels.$inferSelect;

function fromRow(r: ConsoleRow): Omit<ModelVersion, 'retired' | 'live'> {
  return {
    output_id: r.output_id ?? `console:${r.id}`,
    version: r.version ?? 1,
    artifact_hash: r.sha256,
    price: r.price ?? '0',
    owner: '',
    format: 'onnx',
    uri: `/api/v1/models/${r.sha256}/artifact`,
    spent: r.status !== 'published',
  };
}

function uintField(cv: ClarityValue, key: string): number {
  const v = cv.type === ClarityType.Tuple ? cv.value[key] : undefined;
  if (v?.type !== ClarityType.UInt) throw new Error(`get-config: field "${key}" is not a uint`);
  return Number(v.value);
}

/** Models, prices and versions, from the chain when there is one. */
export class Catalog {
  readonly chain: Chain | null;
  readonly #store: SignerDatabase;
  readonly #registry: RegistryReader | null;
  readonly #heads: TtlCache<ModelHead | null>;
  readonly #lists: TtlCache<ModelHead[]>;
  readonly #shares: TtlCache<Shares | null>;

  constructor(opts: CatalogOptions) {
    if (!Number.isInteger(opts.cacheMs) || opts.cacheMs < 0)
      throw new Error(`cacheMs must be a whole number of ms >= 0, got ${opts.cacheMs}`);
    this.#store = opts.store;
    this.chain = opts.chain;
    this.#registry = opts.chain ? new RegistryReader(opts.chain) : null;
    this.#heads = new TtlCache(opts.cacheMs);
    this.#lists = new TtlCache(opts.cacheMs);
    this.#shares = new TtlCache(opts.cacheMs);
  }

  /** The live version of `name`, or null when it is unknown, unpublished or retired. */
  head(name: string): Promise<ModelHead | null> {
    return this.#heads.get(name, async () => {
      if (this.#registry) {
        const out = await this.#registry.head(name);
        return out && { name, ...pick(fromOutput(out)), source: 'chain' };
      }
      const row = this.#latestPublished(name);
      return row && { name, ...pick(fromRow(row)), source: 'console' };
    });
  }

  /**
   * Every model with a live version. With a chain, the names are every name the registry ever
   * created (which includes every name a task can carry); without one, the console's uploads
   * (a name seen only in tasks has no head there). Either way no pass over the task table.
   */
  list(): Promise<ModelHead[]> {
    return this.#lists.get('', async () => {
      const names = new Set<string>();
      if (this.#registry) for (const name of (await this.#registry.names()).keys()) names.add(name);
      else
        for (const r of this.#store.db
          .selectDistinct({ name: consoleModels.name })
          .from(consoleModels)
          .where(eq(consoleModels.status, 'published'))
          .all())
          names.add(r.name);
      const heads = await Promise.all([...names].sort().map((n) => this.head(n)));
      return heads.filter((h): h is ModelHead => h !== null);
    });
  }

  /**
   * Every model name ever created, live or retired, sorted: the registry's with a chain, the
   * console's published and unpublished uploads without one.
   */
  async names(): Promise<string[]> {
    if (this.#registry) return [...(await this.#registry.names()).keys()].sort();
    const rows = this.#store.db
      .selectDistinct({ name: consoleModels.name })
      .from(consoleModels)
      .where(inArray(consoleModels.status, ['published', 'unpublished']))
      .all();
    return rows.map((r) => r.name).sort();
  }

  /** Every version of `name`, newest first (empty when it never existed). */
  async versions(name: string): Promise<ModelVersion[]> {
    if (!this.#registry) {
      const rows = this.#store.db
        .select()
        .from(consoleModels)
        .where(and(eq(consoleModels.name, name), inArray(consoleModels.status, ['published', 'unpublished'])))
        .orderBy(desc(consoleModels.id))
        .all();
      return rows.map((r, i) => ({
        ...fromRow(r),
        retired: i === 0 && r.status === 'unpublished',
        live: r.status === 'published' && i === 0,
      }));
    }
    const registry = this.#registry;
    // The head is the newest output when the model is live; a retired model is found by the scan.
    const newest = (await registry.head(name))?.outputId ?? (await registry.names()).get(name);
    const versions: ModelVersion[] = [];
    for (let id = newest ?? null; id !== null; ) {
      const out = await registry.output(id);
      if (!out) break;
      const first = versions.length === 0;
      versions.push({ ...fromOutput(out), retired: first && out.spent, live: first && !out.spent });
      id = out.parent;
    }
    return versions;
  }

  /** The escrow's owner and treasury shares, or null without a chain. */
  shares(): Promise<Shares | null> {
    return this.#shares.get('', async () => {
      if (!this.chain) return null;
      const cv = await readOnly(this.chain, INFERENCE_ESCROW, 'get-config', []);
      return { owner_bps: uintField(cv, 'owner-bps'), treasury_bps: uintField(cv, 'treasury-bps') };
    });
  }

  /** Forgets cached reads of `name` (after publishing it) so the next read sees the change. */
  invalidate(name: string): void {
    this.#heads.delete(name);
    this.#lists.delete();
  }

  #latestPublished(name: string): ConsoleRow | null {
    return (
      this.#store.db
        .select()
        .from(consoleModels)
        .where(and(eq(consoleModels.name, name), eq(consoleModels.status, 'published')))
        .orderBy(desc(consoleModels.id))
        .limit(1)
        .get() ?? null
    );
  }
}

function pick(v: Omit<ModelVersion, 'retired' | 'live'>): Omit<ModelHead, 'name' | 'source'> {
  const { spent: _spent, ...head } = v;
  return head;
}
