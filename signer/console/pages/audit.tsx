/** The guard's audit log page: filters, a page of findings newest first, page links, and the CSV and JSON downloads. */
import { GUARD_ACTIONS, PII_KINDS } from '../../../protocol/index.js';
import type { AdminSession } from '../accounts.js';
import type { AuditFilters, AuditPage as AuditPageData } from '../audit.js';
import type { Flash } from '../flash.js';
import { Layout } from '../layout.js';

const PATH = '/console/privacy/audit';
const when = (ms: number) => `${new Date(ms).toISOString().replace('T', ' ').slice(0, 19)} UTC`;

/** `path` with the filters (and any extra parameters) as its query string. */
export function auditUrl(path: string, filters: AuditFilters, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v !== undefined) q.set(k, String(v));
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

function Choice({
  name,
  label,
  values,
  value,
}: {
  name: string;
  label: string;
  values: readonly string[];
  value?: string;
}) {
  return (
    <div>
      <label for={`filter-${name}`}>{label}</label>
      <select id={`filter-${name}`} name={name}>
        <option value="">any</option>
        {values.map((v) => (
          <option value={v} selected={v === value}>
            {v}
          </option>
        ))}
      </select>
    </div>
  );
}

/** The audit log page. */
export function AuditPage({
  admin,
  flash,
  filters,
  log,
  models,
  tokens,
}: {
  admin: AdminSession;
  flash?: Flash;
  filters: AuditFilters;
  log: AuditPageData;
  /** Model names to suggest in the model filter. */
  models: string[];
  tokens: { id: number; name: string }[];
}) {
  const from = (log.page - 1) * log.perPage;
  const tokenIds = tokens.map((t) => String(t.id));
  if (filters.token !== undefined && !tokenIds.includes(String(filters.token))) tokenIds.push(String(filters.token));
  const tokenName = new Map(tokens.map((t) => [String(t.id), t.name]));
  return (
    <Layout title="Guard audit log" admin={admin} flash={flash}>
      <p>
        Each time the policy guard finds personal data in an input: the rule, the field, and what was done. The value
        itself is never stored. <a href="/console/privacy">Data levels and trusted nodes</a>
      </p>
      <form method="get" action={PATH} class="card filters" id="audit-filters">
        <div>
          <label for="filter-model">Model</label>
          <input id="filter-model" name="model" list="known-models" value={filters.model ?? ''} />
          <datalist id="known-models">
            {models.map((m) => (
              <option value={m} />
            ))}
          </datalist>
        </div>
        <Choice name="rule" label="Rule" values={PII_KINDS} value={filters.rule} />
        <Choice name="action" label="Action" values={GUARD_ACTIONS} value={filters.action} />
        <div>
          <label for="filter-token">Token</label>
          <select id="filter-token" name="token">
            <option value="">any</option>
            {tokenIds.map((id) => (
              <option value={id} selected={id === String(filters.token)}>
                {tokenName.get(id) ?? `#${id} (deleted)`}
              </option>
            ))}
          </select>
        </div>
        <div class="actions">
          <button type="submit">Filter</button>
          <a href={PATH}>Clear</a>
        </div>
      </form>
      <p class="actions" id="audit-summary">
        <span>
          {log.total === 0
            ? 'No entries match.'
            : `Entries ${from + 1}–${from + log.entries.length} of ${log.total}, newest first.`}
        </span>
        <span>
          Download: <a href={auditUrl(`${PATH}.csv`, filters)}>CSV</a> ·{' '}
          <a href={auditUrl(`${PATH}.json`, filters)}>JSON</a>
        </span>
      </p>
      <div class="scroll">
        <table id="audit-log">
          <thead>
            <tr>
              <th>Time</th>
              <th>Token</th>
              <th>Model</th>
              <th>Level</th>
              <th>Rule</th>
              <th>Field</th>
              <th>Action</th>
              <th>Request</th>
            </tr>
          </thead>
          <tbody>
            {log.entries.map((e) => (
              <tr data-audit-id={String(e.id)} data-action={e.action}>
                <td>{when(e.at)}</td>
                <td>{e.token_id === null ? '—' : (e.token_name ?? `#${e.token_id} (deleted)`)}</td>
                <td class="mono">{e.model}</td>
                <td>{e.data_level}</td>
                <td>{e.rule}</td>
                <td class="mono">{e.path}</td>
                <td>
                  <span class={`status ${e.action}`}>{e.action}</span>
                </td>
                <td class="mono hint">{e.request_id}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {log.pages > 1 && (
        <nav class="actions" aria-label="pages">
          {log.page > 1 && <a href={auditUrl(PATH, filters, { page: String(log.page - 1) })}>Newer</a>}
          <span>
            page {log.page} of {log.pages}
          </span>
          {log.page < log.pages && <a href={auditUrl(PATH, filters, { page: String(log.page + 1) })}>Older</a>}
        </nav>
      )}
    </Layout>
  );
}
