/**
 * The console's models page (/console/models: every model on chain, then the uploads) and its form posts: upload, test, validate again,
 * publish, unpublish, rollback. Each post redirects back to the page with what happened (or
 * why it did not) as a flash message, so the forms work without JavaScript.
 */
import { Hono, type Context } from 'hono';
import { flashOf, redirectWithFlash } from '../../console/index.js';
import { ModelsPage } from '../../console/index.js';
import {
  chainModels,
  listModels,
  publishModel,
  revalidateModel,
  rollbackModel,
  testModel,
  unpublishModel,
  uploadModel,
  MODEL_NAME,
  type TestRun,
} from '../../console-models/index.js';
import { ApiError } from '../../errors.js';
import type { Env } from '../env.js';
import { defaultLimit } from '../limits.js';
import { doc, page } from '../openapi-doc.js';
import { modelUploadLimit, priceSchema, publicBaseUrl, uploadOf } from './admin-models.js';

const PAGE = '/console/models';

/** Runs a form's action and redirects to the page with its notice, or with the error's message. */
async function act(c: Context<Env>, action: () => Promise<string>): Promise<Response> {
  try {
    return redirectWithFlash(c, PAGE, { notice: await action() });
  } catch (err) {
    if (err instanceof ApiError) return redirectWithFlash(c, PAGE, { error: err.message });
    throw err;
  }
}

function idOf(c: Context<Env>): number {
  const id = Number(c.req.param('id'));
  if (!Number.isSafeInteger(id) || id < 1)
    throw new ApiError('bad_request', `"${c.req.param('id')}" is not an upload id`);
  return id;
}

function nameOf(c: Context<Env>): string {
  const name = c.req.param('name') ?? '';
  if (!MODEL_NAME.test(name)) throw new ApiError('bad_request', `"${name.slice(0, 80)}" is not a model name`);
  return name;
}

async function field(c: Context<Env>, key: string): Promise<string> {
  const v = (await c.req.parseBody())[key];
  return typeof v === 'string' ? v.trim() : '';
}

/** "name type [shape] = first values" for each output, and the times. */
export function describeTestRun(name: string, run: TestRun): string {
  const cell = (v: number | string | boolean) =>
    typeof v === 'number' && !Number.isInteger(v) ? v.toPrecision(4) : String(v);
  const outputs = run.outputs_summary.map(
    (o) =>
      `${o.name} ${o.type} [${o.shape.join(',')}] = ${o.sample.slice(0, 6).map(cell).join(', ')}${o.size > 6 ? ', …' : ''}`,
  );
  return `test of ${name}: ${outputs.join('; ')} (load ${Math.round(run.load_ms)} ms, inference ${run.infer_ms.toFixed(1)} ms)`;
}

/** The models page and its forms. */
export const consoleModelPages = new Hono<Env>()
  .get(PAGE, doc('console', page('Models on chain and console uploads')), async (c) => {
    const s = c.var.services;
    return c.html(
      <ModelsPage
        admin={c.var.admin}
        flash={flashOf(c)}
        uploads={listModels(s)}
        onChain={await chainModels(s)}
        operator={s.catalog.chain?.address ?? null}
        maxUploadBytes={s.config.models.max_upload_bytes}
      />,
    );
  })
  .post(PAGE, modelUploadLimit, doc('console', page('Upload an ONNX model (form: file, name)')), (c) =>
    act(c, async () => {
      const { name, bytes } = await uploadOf(c);
      const m = await uploadModel(c.var.services, name, bytes);
      return `uploaded ${m.name} (id ${m.id}): onnxruntime loaded it; ${m.inputs?.length ?? 0} input(s), ${m.outputs?.length ?? 0} output(s)`;
    }),
  )
  .post(
    `${PAGE}/:id{[0-9]+}/test`,
    defaultLimit,
    doc('console', page('Test-run an upload (form: optional input file)')),
    (c) =>
      act(c, async () => {
        const id = idOf(c);
        const file = (await c.req.parseBody()).input;
        let inputs: unknown;
        if (file instanceof File && file.size > 0) {
          try {
            inputs = JSON.parse(await file.text());
          } catch (e) {
            throw new ApiError(
              'bad_request',
              `the input file is not JSON (${(e as Error).message}); upload {"inputs": [{name, shape, datatype, data}]} or leave it empty`,
            );
          }
        }
        return describeTestRun(`upload ${id}`, await testModel(c.var.services, id, inputs));
      }),
  )
  .post(
    `${PAGE}/:id{[0-9]+}/validate`,
    defaultLimit,
    doc('console', page('Load an upload in onnxruntime again')),
    (c) =>
      act(c, async () => {
        const m = await revalidateModel(c.var.services, idOf(c));
        if (m.status === 'invalid')
          throw new ApiError('unprocessable', `${m.name} (id ${m.id}) is invalid: ${m.error}`);
        return `${m.name} (id ${m.id}) loads in onnxruntime`;
      }),
  )
  .post(
    `${PAGE}/:id{[0-9]+}/publish`,
    defaultLimit,
    doc('console', page('Publish an upload on chain (form: price)')),
    (c) =>
      act(c, async () => {
        const price = priceSchema.safeParse(await field(c, 'price'));
        if (!price.success) throw new ApiError('bad_request', 'price must be a whole number of micro-STX');
        const m = await publishModel(c.var.services, idOf(c), price.data, publicBaseUrl(c));
        return `published ${m.name} version ${m.version} at ${m.price} micro-STX (transaction ${m.publish_txid})`;
      }),
  )
  .post(`${PAGE}/:name/unpublish`, defaultLimit, doc('console', page('Retire the live version of a model')), (c) =>
    act(c, async () => {
      const name = nameOf(c);
      if ((await field(c, 'confirm')) !== name)
        throw new ApiError(
          'bad_request',
          `${name} was not unpublished: type its name exactly to confirm (retiring is permanent)`,
        );
      const r = await unpublishModel(c.var.services, name);
      return `unpublished ${r.name} (version ${r.version} retired, transaction ${r.txid})`;
    }),
  )
  .post(
    `${PAGE}/:name/rollback`,
    defaultLimit,
    doc('console', page('Make an earlier version live again (form: version)')),
    (c) =>
      act(c, async () => {
        const version = Number(await field(c, 'version'));
        if (!Number.isSafeInteger(version) || version < 1)
          throw new ApiError('bad_request', 'choose a version to roll back to');
        const r = await rollbackModel(c.var.services, nameOf(c), version);
        return `rolled ${r.name} back to version ${version}'s file, live as version ${r.version} (transaction ${r.txid})`;
      }),
  );
