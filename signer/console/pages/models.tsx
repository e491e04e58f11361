/**
 * The console's models page: every model on chain (owner, price, versions; the signer's own
 * marked), the upload form, every upload with what onnxruntime said of it and its actions (test
 * on generated inputs or an uploaded OIP JSON file, validate again, publish at a price), and per
 * model the signer owns its versions with unpublish and rollback. Plain forms: it works without JavaScript.
 */
import type { ChainModel, ChainModels, ConsoleModel, TensorInfo } from '../../console-models/index.js';
import type { AdminSession } from '../accounts.js';
import type { Flash } from '../flash.js';
import { CsrfField, Layout } from '../layout.js';

/** Props of `ModelsPage`. */
export interface ModelsPageProps {
  admin: AdminSession;
  flash?: Flash;
  uploads: ConsoleModel[];
  /** Every model on chain (without a chain: the console's published uploads). */
  onChain: ChainModels;
  /** The signer's chain address (owner of what the console publishes); null without a chain. */
  operator: string | null;
  maxUploadBytes: number;
}

/** Inputs or outputs, dynamic dimensions (named or -1 in the file) shown as `?`. */
function io(list: TensorInfo[] | null) {
  if (!list) return <span class="hint">-</span>;
  return (
    <>
      {list.map((t) => (
        <div class="mono">
          {t.name}: {t.type ?? 'non-tensor'} [
          {t.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : '?')).join(', ')}]
        </div>
      ))}
    </>
  );
}

const publishable = (m: ConsoleModel) =>
  m.status === 'validated' || m.status === 'published' || m.status === 'unpublished';

function UploadRow({ m, admin, chainEnabled }: { m: ConsoleModel; admin: AdminSession; chainEnabled: boolean }) {
  return (
    <tr id={`upload-${m.id}`}>
      <td>{m.id}</td>
      <td>{m.name}</td>
      <td>
        <span class={`status ${m.status}`}>{m.status}</span>
        {m.error && <div class="hint">{m.error}</div>}
      </td>
      <td>{m.version ?? '-'}</td>
      <td>{m.price ?? '-'}</td>
      <td>
        <code title={m.sha256}>{m.sha256.slice(0, 12)}…</code>
        <div class="hint">{m.size.toLocaleString('en')} bytes</div>
      </td>
      <td>
        <div class="hint">inputs</div>
        {io(m.inputs)}
        <div class="hint">outputs</div>
        {io(m.outputs)}
      </td>
      <td>
        {m.status !== 'invalid' && m.status !== 'uploaded' && (
          <div class="actions">
            <form method="post" action={`/console/models/${m.id}/test`} enctype="multipart/form-data" class="inline">
              <CsrfField admin={admin} />
              <input
                type="file"
                name="input"
                accept=".json,application/json"
                aria-label={`OIP input JSON for ${m.name} (optional; generated when empty)`}
                title="optional OIP input JSON; generated from the declared shapes when empty"
                style="width: 14rem"
              />
              <button type="submit" class="secondary">
                Test
              </button>
            </form>
            <form method="post" action={`/console/models/${m.id}/validate`} class="inline">
              <CsrfField admin={admin} />
              <button type="submit" class="secondary">
                Validate again
              </button>
            </form>
            {chainEnabled && publishable(m) && (
              <form method="post" action={`/console/models/${m.id}/publish`} class="inline">
                <CsrfField admin={admin} />
                <input
                  name="price"
                  inputmode="numeric"
                  pattern="[0-9]+"
                  required
                  placeholder="price (micro-STX)"
                  aria-label={`price of ${m.name} in micro-STX`}
                  value={m.price ?? ''}
                  style="width: 11rem"
                />
                <button type="submit">Publish</button>
              </form>
            )}
          </div>
        )}
      </td>
    </tr>
  );
}

function History({ h, admin }: { h: ChainModel; admin: AdminSession }) {
  return (
    <section class="card" id={`versions-${h.name}`}>
      <h2>
        {h.name}{' '}
        {h.head ? (
          <span class="status published">live: version {h.head.version}</span>
        ) : (
          <span class="status">not live</span>
        )}
      </h2>
      {h.error && <p class="flash error">{h.error}</p>}
      {h.head && (
        <form method="post" action={`/console/models/${h.name}/unpublish`} class="actions">
          <CsrfField admin={admin} />
          {/* Retiring is forever (the registry never reuses a name), so the name is typed to confirm. */}
          <input
            name="confirm"
            required
            placeholder={`type ${h.name} to confirm`}
            aria-label={`type ${h.name} to confirm unpublishing`}
            style="width: 14rem"
          />
          <button type="submit" class="danger">
            Unpublish (retire {h.name} for good)
          </button>
        </form>
      )}
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th>version</th>
              <th>output</th>
              <th>sha256</th>
              <th>price</th>
              <th>state</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {h.versions.map((v) => (
              <tr>
                <td>{v.version}</td>
                <td>{v.output_id}</td>
                <td>
                  <code title={v.artifact_hash}>{v.artifact_hash.slice(0, 12)}…</code>
                </td>
                <td>{v.price}</td>
                <td>{v.live ? 'live' : v.retired ? 'retired' : 'superseded'}</td>
                <td>
                  {h.head && !v.live && (
                    <form method="post" action={`/console/models/${h.name}/rollback`} class="inline">
                      <CsrfField admin={admin} />
                      <input type="hidden" name="version" value={String(v.version)} />
                      <button type="submit" class="secondary">
                        Roll back to this
                      </button>
                    </form>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** A model's state: live at a version, or retired at its last one. */
function state(m: ChainModel) {
  if (m.error) return <span class="status invalid">unreadable</span>;
  if (m.head) return <span class="status published">live: v{m.head.version}</span>;
  return <span class="status">retired{m.versions[0] ? ` at v${m.versions[0].version}` : ''}</span>;
}

function ChainRow({ m }: { m: ChainModel }) {
  const newest = m.versions[0];
  return (
    <tr id={`chain-model-${m.name}`} data-owned={String(m.owned)}>
      <td>
        {m.owned ? <a href={`#versions-${m.name}`}>{m.name}</a> : m.name}
        {m.error && <div class="hint">{m.error}</div>}
      </td>
      <td>
        {m.owner ? <code class="owner">{m.owner}</code> : <span class="hint">-</span>}
        {m.owned && m.owner && <span class="status mine">this signer</span>}
      </td>
      <td>{state(m)}</td>
      <td>{(m.head ?? newest)?.price ?? '-'}</td>
      <td title={m.versions.map((v) => `v${v.version} ${v.artifact_hash.slice(0, 12)}`).join('\n')}>
        {m.versions.length}
      </td>
      <td>{newest ? <code title={newest.artifact_hash}>{newest.artifact_hash.slice(0, 12)}…</code> : '-'}</td>
    </tr>
  );
}

function OnChain({ onChain, operator }: { onChain: ChainModels; operator: string | null }) {
  return (
    <section>
      <h2>Models on chain</h2>
      <p class="hint">
        Every model the registry holds, whoever deployed it.{' '}
        {operator && (
          <>
            Marked <span class="status mine">this signer</span>: owned by this signer's account <code>{operator}</code>,
            which the console can upgrade, roll back or retire.
          </>
        )}
      </p>
      {onChain.error && <p class="flash error">{onChain.error}</p>}
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th>name</th>
              <th>owner</th>
              <th>state</th>
              <th>price (micro-STX)</th>
              <th>versions</th>
              <th>sha256 (newest)</th>
            </tr>
          </thead>
          <tbody>
            {onChain.models.length === 0 && !onChain.error && (
              <tr>
                <td colspan={6} class="hint">
                  No model on chain yet.
                </td>
              </tr>
            )}
            {onChain.models.map((m) => (
              <ChainRow m={m} />
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** The models page. */
export function ModelsPage({ admin, flash, uploads, onChain, operator, maxUploadBytes }: ModelsPageProps) {
  const chainEnabled = operator !== null;
  const histories = onChain.models.filter((m) => m.owned);
  return (
    <Layout title="Models" admin={admin} flash={flash}>
      {chainEnabled && <OnChain onChain={onChain} operator={operator} />}
      <form method="post" action="/console/models" enctype="multipart/form-data" class="card narrow">
        <h2>Upload a model</h2>
        <CsrfField admin={admin} />
        <label for="model-name">
          Name <span class="hint">letters, digits, dots, dashes, underscores</span>
        </label>
        <input id="model-name" name="name" required maxlength={64} pattern="[A-Za-z0-9][A-Za-z0-9._\-]*" />
        <label for="model-file">
          ONNX file <span class="hint">at most {maxUploadBytes.toLocaleString('en')} bytes</span>
        </label>
        <input id="model-file" name="file" type="file" accept=".onnx" required />
        <p>
          <button type="submit">Upload and validate</button>
        </p>
      </form>
      {!chainEnabled && (
        <p class="flash error">
          Publishing needs the chain (chain.enabled): this signer runs without one, so uploads can be validated and
          tested but not published.
        </p>
      )}
      <h2>Uploads</h2>
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th>id</th>
              <th>name</th>
              <th>status</th>
              <th>version</th>
              <th>price</th>
              <th>sha256</th>
              <th>inputs / outputs</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {uploads.length === 0 && (
              <tr>
                <td colspan={8} class="hint">
                  No uploads yet.
                </td>
              </tr>
            )}
            {uploads.map((m) => (
              <UploadRow m={m} admin={admin} chainEnabled={chainEnabled} />
            ))}
          </tbody>
        </table>
      </div>
      {histories.length > 0 && <h2>Versions of this signer's models</h2>}
      {histories.map((h) => (
        <History h={h} admin={admin} />
      ))}
    </Layout>
  );
}
