/** The API tokens pages: the list with a create form (which shows a new token once), and one token's edit page. */
import type { AdminSession } from '../accounts.js';
import type { Flash } from '../flash.js';
import { CsrfField, Layout } from '../layout.js';
import type { DataLevel } from '../../../protocol/index.js';
import type { TokenView } from '../../tokens/index.js';
import { LevelSelect, levelText } from './privacy.js';

const when = (ms: number | null) =>
  ms === null ? 'never' : `${new Date(ms).toISOString().replace('T', ' ').slice(0, 16)} UTC`;
const dateInput = (ms: number | null) => (ms === null ? '' : new Date(ms).toISOString().slice(0, 16));
const limit = (n: number, unit: string) => (n === 0 ? 'no limit' : `${n} ${unit}`);

/** Inputs shared by the create and edit forms; `t` prefills them; `defaultLevel` is the guard's default_level. */
function SettingsFields({ t, defaultLevel }: { t?: TokenView; defaultLevel: DataLevel }) {
  return (
    <>
      <label for="name">Name</label>
      <input id="name" name="name" required maxlength={100} value={t?.name ?? ''} />
      <label for="allowed_models">
        Allowed models <span class="hint">comma-separated names; empty: every model</span>
      </label>
      <input id="allowed_models" name="allowed_models" value={t?.allowed_models?.join(', ') ?? ''} />
      <label for="ip_allowlist">
        IP allow-list <span class="hint">IPs or CIDR ranges, comma-separated; empty: any address</span>
      </label>
      <input id="ip_allowlist" name="ip_allowlist" value={t?.ip_allowlist.join(', ') ?? ''} />
      <label for="rate_limit_per_minute">
        Requests per minute <span class="hint">0: no limit</span>
      </label>
      <input
        id="rate_limit_per_minute"
        name="rate_limit_per_minute"
        type="number"
        min={0}
        value={String(t?.rate_limit_per_minute ?? 60)}
      />
      <label for="monthly_quota">
        Monthly quota <span class="hint">requests per calendar month (UTC); 0: no limit</span>
      </label>
      <input id="monthly_quota" name="monthly_quota" type="number" min={0} value={String(t?.monthly_quota ?? 0)} />
      <label for="expires_at">
        Expires at <span class="hint">UTC; empty: never</span>
      </label>
      <input id="expires_at" name="expires_at" type="datetime-local" value={dateInput(t?.expires_at ?? null)} />
      <label for="account">
        Prepaid account{' '}
        <span class="hint">
          Stacks principal whose deposit pays each call, within the allowance it signed (market account allow); empty:
          not metered
        </span>
      </label>
      <input id="account" name="account" maxlength={64} value={t?.account ?? ''} />
      <label for="data_level">
        Data level{' '}
        <span class="hint">
          what the token's inputs may hold: L0 public, L1 internal (personal data masked), L2 sensitive (see{' '}
          <a href="/console/privacy">Privacy</a>); a call gets the stricter of this and its model's level
        </span>
      </label>
      <LevelSelect id="data_level" value={t?.data_level ?? null} defaultLevel={defaultLevel} />
    </>
  );
}

/** Pause / activate / delete buttons for the moves the token's state allows (and a link to its edit page from the list). */
function Actions({ admin, t, inList = true }: { admin: AdminSession; t: TokenView; inList?: boolean }) {
  const post = (action: string, label: string, cls = 'secondary') => (
    <form method="post" action={`/console/tokens/${t.id}/${action}`} class="inline">
      <CsrfField admin={admin} />
      <button type="submit" class={cls}>
        {label}
      </button>
    </form>
  );
  return (
    <div class="actions">
      {inList && <a href={`/console/tokens/${t.id}`}>Edit</a>}
      {t.status === 'active' && post('pause', 'Pause')}
      {(t.status === 'paused' || t.status === 'over_limit') &&
        post('activate', t.status === 'over_limit' ? 'Reset quota' : 'Activate')}
      {post('delete', 'Delete', 'danger')}
    </div>
  );
}

/** The token list and create form; `created` is a token just made, shown this once. */
export function TokensPage({
  admin,
  tokens,
  defaultLevel,
  flash,
  created,
}: {
  admin: AdminSession;
  tokens: TokenView[];
  /** The guard's default_level: what a token left at default gets. */
  defaultLevel: DataLevel;
  flash?: Flash;
  created?: { token: string; name: string };
}) {
  return (
    <Layout title="API tokens" admin={admin} flash={flash}>
      {created && (
        <div class="card" id="new-token">
          <p>
            Token <strong>{created.name}</strong> created. Copy it now: it is not shown again.
          </p>
          <p class="copy-row">
            <code id="new-token-value">{created.token}</code>
            <button
              type="button"
              class="secondary"
              data-copy="new-token-value"
              aria-label={`copy the token ${created.name}`}
            >
              Copy
            </button>
          </p>
          <p class="hint">Callers send it as the header Authorization: Bearer {created.token.slice(0, 10)}…</p>
        </div>
      )}
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>State</th>
              <th>Used this month</th>
              <th>Rate</th>
              <th>Expires</th>
              <th>Models</th>
              <th>IPs</th>
              <th>Data level</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {tokens.length === 0 && (
              <tr>
                <td colspan={9}>No tokens yet: create one below.</td>
              </tr>
            )}
            {tokens.map((t) => (
              <tr data-token-id={String(t.id)}>
                <td>
                  {t.name}
                  <div class="mono hint">{t.prefix}…</div>
                </td>
                <td>
                  <span class={`status ${t.status}`}>{t.status.replace('_', ' ')}</span>
                </td>
                <td>
                  {t.usage.month_count} / {limit(t.monthly_quota, 'requests')}
                  <div class="hint">
                    {t.usage.total_count} in all; last {when(t.usage.last_used_at)}
                  </div>
                </td>
                <td>{limit(t.rate_limit_per_minute, '/ min')}</td>
                <td>{when(t.expires_at)}</td>
                <td>{t.allowed_models === null ? 'all' : t.allowed_models.join(', ')}</td>
                <td>
                  {t.ip_allowlist.length === 0 ? 'any' : t.ip_allowlist.join(', ')}
                  {t.account && <div class="mono hint">paid by {t.account}</div>}
                </td>
                <td class="data-level">{levelText(t.data_level, defaultLevel)}</td>
                <td>
                  <Actions admin={admin} t={t} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>Create a token</h2>
      <form method="post" action="/console/tokens" class="card narrow">
        <CsrfField admin={admin} />
        <SettingsFields defaultLevel={defaultLevel} />
        <p>
          <button type="submit">Create token</button>
        </p>
      </form>
    </Layout>
  );
}

/** One token's edit form and state actions. */
export function TokenEditPage({
  admin,
  token,
  defaultLevel,
  flash,
}: {
  admin: AdminSession;
  token: TokenView;
  defaultLevel: DataLevel;
  flash?: Flash;
}) {
  return (
    <Layout title={`API token ${token.name}`} admin={admin} flash={flash}>
      <p>
        State: <span class={`status ${token.status}`}>{token.status.replace('_', ' ')}</span> · created{' '}
        {when(token.created_at)} · <a href="/console/tokens">all tokens</a>
      </p>
      <Actions admin={admin} t={token} inList={false} />
      {token.status === 'expired' && (
        <form method="post" action={`/console/tokens/${token.id}/activate`} class="card narrow">
          <CsrfField admin={admin} />
          <label for="renew_expires_at">
            New expiry <span class="hint">UTC, in the future; empty: never</span>
          </label>
          <input id="renew_expires_at" name="expires_at" type="datetime-local" />
          <p>
            <button type="submit">Activate with this expiry</button>
          </p>
        </form>
      )}
      <h2>Settings</h2>
      <form method="post" action={`/console/tokens/${token.id}`} class="card narrow">
        <CsrfField admin={admin} />
        <SettingsFields t={token} defaultLevel={defaultLevel} />
        <p>
          <button type="submit">Save</button>
        </p>
      </form>
    </Layout>
  );
}
