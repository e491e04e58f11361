/** The Privacy page: each known model's data level, and which nodes are trusted with sensitive (L2) inputs. */
import type { DataLevel, GuardAction } from '../../../protocol/index.js';
import { DATA_LEVELS } from '../../../protocol/index.js';
import type { AdminSession } from '../accounts.js';
import type { Flash } from '../flash.js';
import { CsrfField, Layout } from '../layout.js';
import type { ModelLevels, NodeTrust } from '../privacy.js';

/** What the guard does at each level (`[guard]` L0/L1/L2 action in signer.toml), and its default level. */
export interface GuardSummary {
  enabled: boolean;
  defaultLevel: DataLevel;
  actions: Record<DataLevel, GuardAction>;
  /** `[guard] l2_clear_text`: where an L2 input without personal data found in it may go in clear text. */
  l2ClearText: 'trusted_nodes' | 'refuse';
}

const LEVEL_NAMES: Record<DataLevel, string> = { L0: 'public', L1: 'internal', L2: 'sensitive' };

/** A data level select: L0, L1, L2, or `default` (the guard's default_level, named in the option). */
export function LevelSelect({
  id,
  value,
  defaultLevel,
  label,
}: {
  id: string;
  value: DataLevel | null;
  defaultLevel: DataLevel;
  label?: string;
}) {
  return (
    <select id={id} name="data_level" aria-label={label}>
      <option value="default" selected={value === null}>
        default ({defaultLevel})
      </option>
      {DATA_LEVELS.map((l) => (
        <option value={l} selected={value === l}>
          {l} {LEVEL_NAMES[l]}
        </option>
      ))}
    </select>
  );
}

/** A level as lists show it: `L2`, or `default (L1)`. */
export const levelText = (level: DataLevel | null, defaultLevel: DataLevel) => level ?? `default (${defaultLevel})`;

const seen = (ms: number) => `${new Date(ms).toISOString().replace('T', ' ').slice(0, 19)} UTC`;

/** The Privacy page. */
export function PrivacyPage({
  admin,
  flash,
  guard,
  models,
  nodes,
}: {
  admin: AdminSession;
  flash?: Flash;
  guard: GuardSummary;
  models: ModelLevels;
  nodes: NodeTrust[];
}) {
  return (
    <Layout title="Privacy" admin={admin} flash={flash}>
      <div class="card" role="note">
        <p>
          The policy guard looks for personal data (e-mail addresses, phone numbers, resident ID and bank card numbers,
          IP addresses) in every clear-text input before a node gets it. A call is guarded at the stricter of its
          token's and its model's data level; either one left at <em>default</em> is {guard.defaultLevel}.
          {!guard.enabled && <strong> The guard is off on this signer ([guard] enabled = false).</strong>}
        </p>
        <ul>
          {DATA_LEVELS.map((l) => (
            <li>
              <strong>
                {l} {LEVEL_NAMES[l]}
              </strong>
              : personal data is {{ pass: 'let through', mask: 'masked', refuse: 'refused' }[guard.actions[l]]}
              {l === 'L2' &&
                (guard.l2ClearText === 'refuse'
                  ? '; an L2 input must be sent encrypted (l2_clear_text = "refuse")'
                  : '; an L2 input in clear text goes only to trusted nodes (below)')}
            </li>
          ))}
        </ul>
        <p>
          Every finding is in the <a href="/console/privacy/audit">audit log</a> (rule, field, action; never the value).
          Tokens get their level on the <a href="/console/tokens">tokens</a> page.
        </p>
      </div>

      <h2>Models</h2>
      {models.error && <p class="flash error">{models.error}</p>}
      <div class="scroll">
        <table id="model-levels">
          <thead>
            <tr>
              <th>Model</th>
              <th>Known from</th>
              <th>Data level</th>
            </tr>
          </thead>
          <tbody>
            {models.models.length === 0 && (
              <tr>
                <td colspan={3}>No models yet: publish one on the models page.</td>
              </tr>
            )}
            {models.models.map((m, i) => (
              <tr data-model={m.name}>
                <td class="mono">{m.name}</td>
                <td>{m.sources.join(', ')}</td>
                <td>
                  <form method="post" action="/console/privacy/models" class="actions">
                    <CsrfField admin={admin} />
                    <input type="hidden" name="model" value={m.name} />
                    <LevelSelect
                      id={`model-level-${i}`}
                      value={m.level}
                      defaultLevel={guard.defaultLevel}
                      label={`data level of ${m.name}`}
                    />
                    <button type="submit" class="secondary">
                      Save
                    </button>
                  </form>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      <h2>Nodes</h2>
      <p class="hint">
        A <strong>trusted</strong> node may run L2 (sensitive) inputs in clear text: it sees the personal data in them.
        Trust only nodes you run or have an agreement with; other nodes do not get L2 inputs in clear text.
      </p>
      <div class="scroll">
        <table id="node-trust">
          <thead>
            <tr>
              <th>Node</th>
              <th>Status</th>
              <th>Last heartbeat</th>
              <th>Trusted</th>
            </tr>
          </thead>
          <tbody>
            {nodes.length === 0 && (
              <tr>
                <td colspan={4}>No node has registered yet.</td>
              </tr>
            )}
            {nodes.map((n) => (
              <tr data-node={n.node_id}>
                <td class="mono">{n.node_id}</td>
                <td>{n.status}</td>
                <td>{seen(n.last_heartbeat)}</td>
                <td>
                  <form method="post" action="/console/privacy/nodes" class="actions">
                    <CsrfField admin={admin} />
                    <input type="hidden" name="node_id" value={n.node_id} />
                    <input type="hidden" name="trusted" value={n.trusted ? '0' : '1'} />
                    <span class={`status ${n.trusted ? 'trusted' : ''}`}>{n.trusted ? 'trusted' : 'not trusted'}</span>
                    <button type="submit" class={n.trusted ? 'danger' : 'secondary'}>
                      {n.trusted ? 'Stop trusting' : 'Trust'}
                    </button>
                  </form>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Layout>
  );
}
