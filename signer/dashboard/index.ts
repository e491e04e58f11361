/**
 * The console dashboard's figures (DESIGN §4 "Dashboard"): models with price, owner share and
 * version; usage per model and per token over time; tasks by status; throughput and latency
 * p50/p95; node earnings; settlement transactions. One snapshot feeds both the server-rendered
 * page and the JSON its script polls.
 */
import type { Services } from '../services.js';
import {
  bucketStarts,
  bucketWindow,
  directCalls,
  directLatency,
  results,
  taskLatency,
  type KeyedSeries,
  type Percentiles,
} from './series.js';
import { accountsSection, type AccountsSection } from './accounts.js';
import { BucketCache } from './buckets.js';
import {
  earningsByNode,
  recentSettlements,
  statusCounts,
  type NodeEarning,
  type SettlementView,
  type TaskCounts,
} from './tables.js';

export { bucketWindow, bucketStarts, type Window, type KeyedSeries, type Percentiles } from './series.js';
export type { NodeEarning, SettlementView, TaskCounts } from './tables.js';
export type { AccountView, AccountsSection } from './accounts.js';
export { AllTimeTotals } from './all-time.js';

/** A model row of the dashboard. */
export interface DashboardModel {
  name: string;
  /** Live registry version, or null when the model has no live version (retired, or only seen in tasks). */
  version: number | null;
  /** micro-STX per call (decimal string), null without a live version. */
  price: string | null;
  owner: string | null;
  artifact_hash: string | null;
  /** Tasks ever seen for it, both sources. */
  tasks: number;
  /** Calls in the plotted window: direct requests served plus on-chain results. */
  calls_in_window: number;
}

/** Everything the dashboard shows at one moment. */
export interface DashboardSnapshot {
  generated_at: number;
  refresh_ms: number;
  /** Start (ms) of every bucket; every series below has one value per bucket. */
  buckets: number[];
  bucket_ms: number;
  models: DashboardModel[];
  /** Revenue split of every escrowed fee (basis points); null without a chain. */
  shares: { owner_bps: number; treasury_bps: number; node_bps: number } | null;
  /** Why the model list or shares could not be read (e.g. the chain API is down), else null. */
  catalog_error: string | null;
  usage: {
    /** Direct (token-paid, not escrowed) requests served per model. */
    direct_by_model: KeyedSeries;
    /** Direct requests per API token. */
    direct_by_token: KeyedSeries;
    /** On-chain (escrowed) tasks with a result per model. */
    chain_by_model: KeyedSeries;
    /** Sums over the window. */
    totals: { direct_calls: number; chain_results: number };
  };
  /** `total` is live; the split by source is from the all-time pass made at `by_source_at` (see `dashboard.totals_refresh_ms`). */
  tasks: TaskCounts & { by_source_at: number };
  throughput: KeyedSeries;
  latency: { tasks: Percentiles; direct: Percentiles };
  /** `by_node` is from the all-time pass made at `tasks.by_source_at`; `over_time` is live. */
  earnings: { by_node: NodeEarning[]; over_time: KeyedSeries };
  settlements: SettlementView[];
  /** Prepaid accounts: deposits, unsettled spend, last settlements, periods, the settler's bond and proven challenges. */
  accounts: AccountsSection;
}

const BPS = 10_000;

const bucketCaches = new WeakMap<Services, BucketCache>();
/** Slack past the longest direct request before a bucket counts as closed (a writer's clock may lag ours). */
const CLOSE_SLACK_MS = 5_000;

/** The Services' kept buckets (signer/dashboard/buckets.ts), closed once the longest direct request has ended. */
function bucketCache(s: Services): BucketCache {
  let c = bucketCaches.get(s);
  if (!c) bucketCaches.set(s, (c = new BucketCache(s.config.inference.max_timeout_ms + CLOSE_SLACK_MS)));
  return c;
}

function sum(series: KeyedSeries): number {
  return Object.values(series).reduce((a, s) => a + s.reduce((x, y) => x + y, 0), 0);
}

async function catalogView(
  s: Services,
): Promise<
  Pick<DashboardSnapshot, 'shares' | 'catalog_error'> & { heads: Awaited<ReturnType<Services['catalog']['list']>> }
> {
  try {
    const [heads, shares] = await Promise.all([s.catalog.list(), s.catalog.shares()]);
    return {
      heads,
      shares: shares && { ...shares, node_bps: BPS - shares.owner_bps - shares.treasury_bps },
      catalog_error: null,
    };
  } catch (err) {
    // The rest of the dashboard is the signer's own database: show it even when the chain is away.
    s.log.warn({ err }, 'dashboard: model catalog unavailable');
    return {
      heads: [],
      shares: null,
      catalog_error: `models and shares could not be read from the chain (${(err as Error).message}); check chain.api_url`,
    };
  }
}

/** The dashboard's figures now, over `config.dashboard.buckets` buckets of `bucket_seconds`. */
export async function dashboardSnapshot(s: Services, now = Date.now()): Promise<DashboardSnapshot> {
  const cfg = s.config.dashboard;
  const sqlite = s.store.sqlite;
  const w = bucketWindow(now, cfg.bucket_seconds * 1000, cfg.buckets);
  const { heads, shares, catalog_error } = await catalogView(s);
  const rows = bucketCache(s).source(w, now);
  const direct = directCalls(sqlite, w, rows);
  const direct_by_model = direct.byModel;
  const served = results(sqlite, w, rows);
  const chain_by_model = served.chainByModel;
  const total = statusCounts(sqlite);
  const latency = { tasks: taskLatency(sqlite, w, rows), direct: directLatency(sqlite, w, rows) };
  const over_time = earningsByNode(sqlite, w, rows);
  const settlements = recentSettlements(sqlite, s.config.chain.api_url, cfg.settlements_shown);
  const accounts = await accountsSection(s, cfg.settlements_shown, now);
  // Off the event loop: the last all-time pass, a new one started in the background once it is old.
  // Asked last, so that a pass this poll starts does not compete with its own queries for the CPU.
  const totals = await s.dashboardTotals.get(now);
  const calls = (name: string) => sum({ d: direct_by_model[name] ?? [], c: chain_by_model[name] ?? [] });
  const models: DashboardModel[] = heads.map((h) => ({
    name: h.name,
    version: h.version,
    price: h.price,
    owner: h.owner,
    artifact_hash: h.artifact_hash,
    tasks: totals.byModel.get(h.name) ?? 0,
    calls_in_window: calls(h.name),
  }));
  for (const [name, tasks] of totals.byModel) {
    if (!heads.some((h) => h.name === name))
      models.push({
        name,
        version: null,
        price: null,
        owner: null,
        artifact_hash: null,
        tasks,
        calls_in_window: calls(name),
      });
  }
  return {
    generated_at: now,
    refresh_ms: cfg.refresh_ms,
    buckets: bucketStarts(w),
    bucket_ms: w.size,
    models: models.sort((a, b) => a.name.localeCompare(b.name)),
    shares,
    catalog_error,
    usage: {
      direct_by_model,
      direct_by_token: direct.byToken,
      chain_by_model,
      totals: { direct_calls: sum(direct_by_model), chain_results: sum(chain_by_model) },
    },
    tasks: { ...totals.byStatus, total, by_source_at: totals.at },
    throughput: served.bySource,
    latency,
    earnings: { by_node: totals.earnings, over_time },
    settlements,
    accounts,
  };
}

const latest = new WeakMap<Services, { at: number; snapshot: Promise<DashboardSnapshot> }>();

/**
 * The snapshot every viewer gets: computed at most once per half refresh interval whoever asks,
 * so the (synchronous) queries cost the signer the same with one open dashboard or twenty.
 */
export function sharedSnapshot(s: Services, now = Date.now()): Promise<DashboardSnapshot> {
  const hit = latest.get(s);
  if (hit && now - hit.at < s.config.dashboard.refresh_ms / 2) return hit.snapshot;
  const snapshot = dashboardSnapshot(s, now);
  latest.set(s, { at: now, snapshot });
  snapshot.catch(() => latest.delete(s));
  return snapshot;
}
