/**
 * `npm run bench:infer`: direct inference (API token, no chain escrow) on the classifier, through
 * the whole marketplace as real processes on loopback: signer queue -> node agent -> signed result.
 * Against the seed's target "50 inference calls complete within 10 s" it measures
 *  - burst: 50 sync calls sent at once, wall time until the last one answers;
 *  - sustained: 50 concurrent clients calling sync infer back to back for BENCH_SECONDS,
 *    calls/s and latency p50/p95/p99;
 * and how far past the target each is. Writes bench/results/infer.json.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_MODEL, startMarketplace, writeExampleInput } from '../scripts/lib/marketplace.js';
import { mintApiToken } from '../scripts/lib/tokens.js';
import { FAST_SIGNER_TOML } from '../tests/e2e/helpers.js';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
/** The seed's target: 50 calls within 10 s. */
const TARGET = { calls: 50, seconds: 10 };

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
}

const dataDir = mkdtempSync(join(tmpdir(), 'bench-infer-'));
const m = await startMarketplace({
  dataDir,
  signerConfigToml: `${FAST_SIGNER_TOML}\n[inference]\nqueue_size = ${Math.max(100, CLIENTS * 2)}\ntimeout_ms = 30000\n`,
});
try {
  const body = JSON.stringify({ ...JSON.parse(readFileSync(writeExampleInput(dataDir), 'utf8')), timeout_ms: 30_000 });
  const headers = {
    authorization: `Bearer ${await mintApiToken(m, { rate_limit_per_minute: 0 })}`,
    'content-type': 'application/json',
  };
  const url = `${m.signerUrl}/api/v1/models/${DEMO_MODEL}/infer`;
  const errors = new Map<string, number>();
  /** One sync call; its latency in ms, or null when it did not answer 200. */
  const call = async (): Promise<number | null> => {
    const t0 = performance.now();
    const res = await fetch(url, { method: 'POST', headers, body });
    await res.arrayBuffer();
    if (res.status === 200) return performance.now() - t0;
    errors.set(String(res.status), (errors.get(String(res.status)) ?? 0) + 1);
    return null;
  };
  // The first call makes the agent fetch and load the model; it is not measured.
  if ((await call()) === null)
    throw new Error(`the warm-up call failed: ${JSON.stringify(Object.fromEntries(errors))}`);

  const burstStart = performance.now();
  const burst = await Promise.all(Array.from({ length: TARGET.calls }, call));
  const burstSeconds = (performance.now() - burstStart) / 1000;

  const latencies: number[] = [];
  const until = performance.now() + SECONDS * 1000;
  const sustainedStart = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < until) {
        const ms = await call();
        if (ms !== null) latencies.push(ms);
      }
    }),
  );
  const sustainedSeconds = (performance.now() - sustainedStart) / 1000;
  latencies.sort((a, b) => a - b);
  const callsPerS = latencies.length / sustainedSeconds;
  const targetPerS = TARGET.calls / TARGET.seconds;
  const result = {
    when: new Date().toISOString(),
    load_average: loadavg(),
    model: DEMO_MODEL,
    clients: CLIENTS,
    burst: { calls: TARGET.calls, ok: burst.filter((x) => x !== null).length, wall_seconds: burstSeconds },
    sustained: {
      seconds: sustainedSeconds,
      ok_calls: latencies.length,
      calls_per_s: callsPerS,
      latency_ms: {
        p50: percentile(latencies, 50),
        p95: percentile(latencies, 95),
        p99: percentile(latencies, 99),
        max: latencies.at(-1) ?? NaN,
      },
    },
    errors_by_status: Object.fromEntries(errors),
    goal: `${TARGET.calls} calls within ${TARGET.seconds} s (${targetPerS} calls/s)`,
    goal_met: burstSeconds <= TARGET.seconds && callsPerS >= targetPerS,
    ratios: {
      burst_target_seconds_vs_wall: TARGET.seconds / burstSeconds,
      sustained_calls_per_s_vs_target: callsPerS / targetPerS,
    },
  };
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/infer.json', `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
} finally {
  await m.stop();
}
