/**
 * The dashboard page: current figures, tables and empty plot frames, rendered on the server;
 * /console/assets/dashboard.js draws the plots from the snapshot embedded as JSON and keeps
 * everything current by polling /api/v1/admin/dashboard. No inline script runs, so a strict
 * Content-Security-Policy (script-src 'self') holds.
 */
import { raw } from 'hono/html';
import type { AdminSession } from '../accounts.js';
import type { Flash } from '../flash.js';
import { Layout } from '../layout.js';
import type { DashboardSnapshot } from '../../dashboard/index.js';
import { TASK_STATUSES } from '../../../protocol/index.js';

/** micro-STX (decimal string) as STX with up to 6 decimals. */
export function formatStx(micro: string | null): string {
  if (micro === null) return '—';
  const v = BigInt(micro);
  const frac = (v % 1_000_000n).toString().padStart(6, '0').replace(/0+$/, '');
  return `${v / 1_000_000n}${frac ? `.${frac}` : ''} STX`;
}

const iso = (at: number) => new Date(at).toISOString();
const ms = (v: number | null) => (v === null ? '—' : `${v} ms`);
const bps = (v: number) => `${v / 100}%`;

/** JSON for a `<script type="application/json">`: `<` escaped so no value can close the element. */
function embedded(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

function Figure({ label, field, value }: { label: string; field: string; value: string | number }) {
  return (
    <div class="figure">
      <span class="label">{label}</span>
      <strong data-field={field}>{value}</strong>
    </div>
  );
}

function Thead({ cols }: { cols: string[] }) {
  return (
    <thead>
      <tr>
        {cols.map((c) => (
          <th>{c}</th>
        ))}
      </tr>
    </thead>
  );
}

function Plot({ id, title, note }: { id: string; title: string; note?: string }) {
  return (
    <section class="plot">
      <h2>{title}</h2>
      {note && <p class="note">{note}</p>}
      <div id={id} class="plot-frame" />
    </section>
  );
}

/** The dashboard (see the file comment). */
export function DashboardPage({
  admin,
  flash,
  snapshot: s,
}: {
  admin: AdminSession;
  flash?: Flash;
  snapshot: DashboardSnapshot;
}) {
  const all = s.tasks.total;
  const peak = Math.max(1, ...Object.values(all));
  return (
    <Layout title="Dashboard" admin={admin} flash={flash}>
      <link rel="stylesheet" href="/console/assets/uplot.min.css" />
      <link rel="stylesheet" href="/console/assets/dashboard.css" />
      <p class="notice" role="note">
        Direct inference (API tokens, <code>POST /api/v1/models/&#123;model&#125;/infer</code>) is metered per token
        here and is <strong>not escrowed on chain</strong>: only on-chain tasks are paid from escrow and settled by the
        transactions below.
      </p>
      {s.catalog_error && (
        <p class="flash error" role="alert">
          {s.catalog_error}
        </p>
      )}
      <div class="figures" id="figures">
        <Figure label="Direct calls (window)" field="usage.totals.direct_calls" value={s.usage.totals.direct_calls} />
        <Figure
          label="Chain results (window)"
          field="usage.totals.chain_results"
          value={s.usage.totals.chain_results}
        />
        <Figure label="Pending tasks" field="tasks.total.pending" value={all.pending} />
        <Figure label="In progress" field="tasks.total.in_progress" value={all.in_progress} />
        <Figure label="Settled tasks" field="tasks.total.settled" value={all.settled} />
        <Figure label="Task latency p50" field="latency.tasks.window.p50" value={ms(s.latency.tasks.window.p50)} />
        <Figure label="Task latency p95" field="latency.tasks.window.p95" value={ms(s.latency.tasks.window.p95)} />
        <Figure label="Direct latency p95" field="latency.direct.window.p95" value={ms(s.latency.direct.window.p95)} />
      </div>
      <p class="note">
        Plots: one point per {s.bucket_ms / 1000} s over the last {(s.buckets.length * s.bucket_ms) / 60_000} minutes;
        refreshed every {s.refresh_ms / 1000} s. Last update:{' '}
        <time id="updated-at" data-time-field="generated_at">
          {iso(s.generated_at)}
        </time>
      </p>
      <div class="plots">
        <Plot
          id="plot-usage-model"
          title="Usage per model"
          note="Calls per minute, one colour per model: solid for on-chain results, dashed for direct calls."
        />
        <Plot id="plot-usage-token" title="Usage per API token" note="Direct calls served per token." />
        <Plot
          id="plot-throughput"
          title="Throughput"
          note="Tasks that got a result: blue on chain (escrowed), orange direct."
        />
        <Plot
          id="plot-latency"
          title="Latency p50 / p95"
          note="Grey: tasks, created to result. Orange: direct calls, request to response. Solid p50, dotted p95; no point where nothing finished."
        />
        <Plot id="plot-earnings" title="Node earnings over time" note="micro-STX paid to each node by settled tasks." />
        <section class="plot">
          <h2>Tasks by status</h2>
          <p class="note">
            All tasks ever seen. Split by source as of{' '}
            <time data-time-field="tasks.by_source_at">{iso(s.tasks.by_source_at)}</time>: chain tasks are escrowed;
            direct ones are not.
          </p>
          <div id="plot-tasks" class="bars">
            <div class="bar-row head">
              <span>status</span>
              <span />
              <span class="value">all</span>
              <span class="value">chain</span>
              <span class="value">direct</span>
            </div>
            {TASK_STATUSES.map((st) => (
              <div class="bar-row">
                <span class="label">{st}</span>
                <meter min={0} max={peak} value={all[st]} data-status={st} />
                <span class="value" data-field={`tasks.total.${st}`}>
                  {all[st]}
                </span>
                <span class="value" data-field={`tasks.chain.${st}`}>
                  {s.tasks.chain[st]}
                </span>
                <span class="value" data-field={`tasks.direct.${st}`}>
                  {s.tasks.direct[st]}
                </span>
              </div>
            ))}
          </div>
        </section>
      </div>
      <section>
        <h2>Models</h2>
        {s.shares && (
          <p class="note" id="shares">
            Each escrowed fee: model owner {bps(s.shares.owner_bps)}, treasury {bps(s.shares.treasury_bps)}, node{' '}
            {bps(s.shares.node_bps)}.
          </p>
        )}
        <div class="scroll">
          <table id="models-table">
            <Thead cols={['Model', 'Version', 'Price per call', 'Owner', 'Owner share', 'Tasks', 'Calls (window)']} />
            <tbody>
              {s.models.map((m) => (
                <tr>
                  <td>{m.name}</td>
                  <td>{m.version ?? 'not live'}</td>
                  <td>{formatStx(m.price)}</td>
                  <td class="mono">{m.owner ?? '—'}</td>
                  <td>{s.shares ? bps(s.shares.owner_bps) : '—'}</td>
                  <td>{m.tasks}</td>
                  <td>{m.calls_in_window}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
      <section>
        <h2>Node earnings</h2>
        <div class="scroll">
          <table id="earnings-table">
            <Thead cols={['Node', 'Settled tasks', 'Paid']} />
            <tbody>
              {s.earnings.by_node.map((e) => (
                <tr>
                  <td>{e.node_id}</td>
                  <td>{e.settled_tasks}</td>
                  <td>{formatStx(e.payout)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
      <section>
        <h2>Settlement transactions</h2>
        <div class="scroll">
          <table id="settlements-table">
            <Thead cols={['Transaction', 'Kind', 'Status', 'Items', 'Block', 'Tasks']} />
            <tbody>
              {s.settlements.map((t) => (
                <tr>
                  <td class="mono">
                    <a href={t.tx_url}>{t.txid.slice(0, 12)}…</a>
                  </td>
                  <td>{t.kind}</td>
                  <td title={t.reason ?? ''}>{t.status}</td>
                  <td>{t.items}</td>
                  <td>{t.block_height ?? '—'}</td>
                  <td>
                    {t.task_urls.map((u) => (
                      <a class="task-link" href={u.url}>
                        {u.task_id}
                      </a>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
      <section id="accounts">
        <h2>Accounts</h2>
        <p class="note">
          Prepaid accounts: deposits on chain (as last read), spend not yet settled, and each one's last settlement.
          Settler bond: <strong>{s.accounts.settler ? formatStx(s.accounts.settler.bond) : '—'}</strong>; challenges
          proven against it:{' '}
          <strong data-field="accounts.settler.challenges_proven">
            {s.accounts.settler?.challenges_proven ?? '—'}
          </strong>
          .
        </p>
        {s.accounts.settler_error && (
          <p class="flash error" role="alert">
            {s.accounts.settler_error}
          </p>
        )}
        <div class="scroll">
          <table id="accounts-table">
            <Thead cols={['Account', 'Deposit', 'Unsettled', 'Reserved', 'Withdrawal at', 'Last settlement']} />
            <tbody>
              {s.accounts.accounts.map((a) => (
                <tr>
                  <td class="mono">{a.account}</td>
                  <td>{formatStx(a.balance)}</td>
                  <td>{formatStx(a.unsettled)}</td>
                  <td>{formatStx(a.reserved)}</td>
                  <td>{a.withdraw_at ?? '—'}</td>
                  <td>
                    {a.last_settlement ? (
                      <a
                        href={`/api/v1/periods/${a.last_settlement.period}`}
                      >{`period ${a.last_settlement.period} at ${iso(a.last_settlement.at ?? 0)}`}</a>
                    ) : (
                      '—'
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <h3>Periods</h3>
        <div class="scroll">
          <table id="periods-table">
            <Thead cols={['Period', 'Status', 'Chain period', 'Tasks', 'Charged', 'Root', 'Transaction']} />
            <tbody>
              {s.accounts.periods.map((p) => (
                <tr>
                  <td>
                    <a href={`/api/v1/periods/${p.id}`}>{p.id}</a>
                  </td>
                  <td>{p.status}</td>
                  <td>{p.chain_period ?? '—'}</td>
                  <td>{p.tasks}</td>
                  <td>{formatStx(p.charged)}</td>
                  <td class="mono">{p.root.slice(0, 12)}…</td>
                  <td class="mono">{p.txid ? `${p.txid.slice(0, 12)}…` : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
      <script type="application/json" id="dashboard-data">
        {raw(embedded(s))}
      </script>
      <script src="/console/assets/uplot.min.js" defer />
      <script src="/console/assets/dashboard.js" defer />
    </Layout>
  );
}
