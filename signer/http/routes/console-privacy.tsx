/**
 * The console's privacy pages: /console/privacy (models' data levels, trusted nodes, with their form
 * posts) and /console/privacy/audit (the guard's audit log, filtered and paged) with its downloads,
 * audit.csv and audit.json, which take the same filters. Posts redirect (303) back with a flash message.
 */
import { Hono, type Context } from 'hono';
import {
  AuditPage,
  PrivacyPage,
  auditBatches,
  auditFilters,
  auditPage,
  auditQuery,
  exportFileName,
  exportStream,
  flashOf,
  levelChoice,
  modelLevels,
  nodeTrust,
  parseAuditQuery,
  redirectWithFlash,
  setModelLevel,
  EXPORT_FORMATS,
  type AuditQuery,
  type ExportFormat,
} from '../../console/index.js';
import { ApiError } from '../../errors.js';
import { setTrusted } from '../../nodes/index.js';
import { listTokens } from '../../tokens/index.js';
import type { Env } from '../env.js';
import { defaultLimit } from '../limits.js';
import { doc, page } from '../openapi-doc.js';

const PAGE = '/console/privacy';
const AUDIT = `${PAGE}/audit`;

async function field(c: Context<Env>, key: string): Promise<string> {
  const v = (await c.req.parseBody())[key];
  return typeof v === 'string' ? v.trim() : '';
}

/** Runs a form's action and redirects to the page with its notice, or with the error's message. */
async function act(c: Context<Env>, action: () => Promise<string>): Promise<Response> {
  try {
    return redirectWithFlash(c, PAGE, { notice: await action() });
  } catch (err) {
    if (err instanceof ApiError) return redirectWithFlash(c, PAGE, { error: err.message });
    throw err;
  }
}

/** A download of the audit log in `format`, with the query's filters. */
function download(c: Context<Env>, format: ExportFormat): Response {
  const filters = parseAuditQuery(auditFilters, c.req.query());
  c.var.services.log.info({ admin: c.var.admin.username, format, filters }, 'guard audit log exported');
  return c.body(exportStream(format, auditBatches(c.var.services.store, filters)), 200, {
    'content-type': EXPORT_FORMATS[format],
    'content-disposition': `attachment; filename="${exportFileName(format, filters)}"`,
    'cache-control': 'no-store',
  });
}

/** The OpenAPI operation of a download: a file (attachment) in `format`. */
function exportDoc(format: ExportFormat) {
  const type = format === 'csv' ? 'text/csv' : 'application/json';
  return {
    ...page(`The guard audit log as ${format.toUpperCase()} (query: model, rule, action, token)`),
    responses: {
      200: { description: `A ${format.toUpperCase()} file (attachment)`, content: { [type]: { schema: {} } } },
      303: { description: 'Redirect to the login page' },
    },
  };
}

/** The privacy pages, their forms and the audit log's downloads. */
export const consolePrivacy = new Hono<Env>()
  .get(PAGE, doc('console', page('Data levels of models, and trusted nodes')), async (c) => {
    const s = c.var.services;
    const g = s.config.guard;
    return c.html(
      <PrivacyPage
        admin={c.var.admin}
        flash={flashOf(c)}
        guard={{
          enabled: g.enabled,
          defaultLevel: g.default_level,
          actions: { L0: g.L0.action, L1: g.L1.action, L2: g.L2.action },
          l2ClearText: g.l2_clear_text,
        }}
        models={await modelLevels(s)}
        nodes={nodeTrust(s.store)}
      />,
    );
  })
  .post(
    `${PAGE}/models`,
    defaultLimit,
    doc('console', page("Set a model's data level (form: model, data_level)")),
    (c) =>
      act(c, async () => {
        const model = await field(c, 'model');
        const level = levelChoice.safeParse(await field(c, 'data_level'));
        if (!level.success) throw new ApiError('bad_request', `data_level ${level.error.issues[0]?.message}`);
        setModelLevel(c.var.services.store, model, level.data);
        c.var.services.log.info({ admin: c.var.admin.username, model, data_level: level.data }, 'model data level set');
        return level.data === 'default'
          ? `${model} now has the default level (${c.var.services.config.guard.default_level})`
          : `${model} is now ${level.data}`;
      }),
  )
  .post(
    `${PAGE}/nodes`,
    defaultLimit,
    doc('console', page('Trust a node or stop trusting it (form: node_id, trusted)')),
    (c) =>
      act(c, async () => {
        const nodeId = await field(c, 'node_id');
        const trusted = await field(c, 'trusted');
        if (trusted !== '1' && trusted !== '0')
          throw new ApiError('bad_request', 'trusted must be 1 (trust the node) or 0 (stop trusting it)');
        setTrusted(c.var.services.store, nodeId, trusted === '1');
        c.var.services.log.info(
          { admin: c.var.admin.username, node_id: nodeId, trusted: trusted === '1' },
          'node trust set',
        );
        return trusted === '1'
          ? `${nodeId} is trusted: it may run L2 inputs in clear text`
          : `${nodeId} is no longer trusted with L2 inputs in clear text`;
      }),
  )
  .get(AUDIT, doc('console', page('The guard audit log (query: model, rule, action, token, page)')), async (c) => {
    const s = c.var.services;
    let q: AuditQuery;
    try {
      q = parseAuditQuery(auditQuery, c.req.query());
    } catch (err) {
      if (err instanceof ApiError) return redirectWithFlash(c, AUDIT, { error: err.message });
      throw err;
    }
    const { page: n, ...filters } = q;
    return c.html(
      <AuditPage
        admin={c.var.admin}
        flash={flashOf(c)}
        filters={filters}
        log={auditPage(s.store, filters, n)}
        models={(await modelLevels(s)).models.map((m) => m.name)}
        tokens={listTokens(s.store).map((t) => ({ id: t.id, name: t.name }))}
      />,
    );
  })
  .get(`${AUDIT}.csv`, doc('console', exportDoc('csv')), (c) => download(c, 'csv'))
  .get(`${AUDIT}.json`, doc('console', exportDoc('json')), (c) => download(c, 'json'));
