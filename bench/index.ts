/**
 * `npm run bench`: every benchmark in turn, each in its own process so none inherits another's
 * heap, then bench/results/summary.md with each one's goal lines. The JSON files beside it hold
 * the full figures.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { pgBinaries } from '../tests/pg/server.js';

const BENCHES = [
  'settlement',
  'accounts',
  'devnet',
  'signer',
  'agent',
  'e2e',
  'infer',
  'dashboard',
  'privacy',
] as const;

const lines = [
  `# Benchmarks (${new Date().toISOString()}, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')})`,
  '',
];
/** bench:signer adds its PostgreSQL suites (1 and 3 replicas) when the server binaries are installed. */
const extraArgs: Partial<Record<(typeof BENCHES)[number], string[]>> = pgBinaries()
  ? { signer: ['--database', 'postgres'] }
  : {};
if (!extraArgs.signer) lines.push('PostgreSQL server binaries not found: bench:signer ran on SQLite only.', '');
let failed = 0;
for (const name of BENCHES) {
  console.log(`\n=== bench:${name}`);
  const started = Date.now();
  const run = spawnSync(process.execPath, ['--import', 'tsx', `bench/${name}.ts`, ...(extraArgs[name] ?? [])], {
    stdio: 'inherit',
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  const file = `bench/results/${name}.json`;
  if (run.status !== 0 || !existsSync(file)) {
    failed++;
    lines.push(`## ${name}: FAILED (exit ${run.status ?? run.signal}) after ${seconds} s`, '');
    continue;
  }
  const result = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const goals = ['goal', 'goals', 'goal_met', 'goal_per_second', 'ratios']
    .filter((k) => k in result)
    .map((k) => `- ${k}: \`${JSON.stringify(result[k])}\``);
  lines.push(`## ${name} (${seconds} s): ${file}`, ...goals, '');
}
writeFileSync('bench/results/summary.md', `${lines.join('\n')}\n`);
console.log(`\n${lines.join('\n')}`);
process.exitCode = failed ? 1 : 0;
