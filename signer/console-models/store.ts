/**
 * The console's uploads: one `console_models` row per file whatever becomes of it, the file in the
 * artifact store by sha256 once onnxruntime has loaded it, its recorded inputs and outputs, test runs.
 * Apart from index.ts so that publish.ts can use them without importing the folder's door.
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { desc, eq } from 'drizzle-orm';
import { sha256Hex } from '../../protocol/index.js';
import { OIP_TO_ORT, TensorError, decodeTensor, inferenceInputsSchema } from '../../protocol/index.js';
import { consoleModels } from '../db/index.js';
import { ApiError } from '../errors.js';
import type { Services } from '../services.js';
import { OnnxError, inspectModel, testRun, type Feed, type TensorInfo, type TestRun } from './onnx.js';

/** Where an upload stands: uploaded (being checked), invalid, validated, published (live on chain), unpublished (retired or superseded). */
export type ConsoleModelStatus = 'uploaded' | 'invalid' | 'validated' | 'published' | 'unpublished';

/** A console upload as the API returns it. */
export interface ConsoleModel {
  id: number;
  name: string;
  sha256: string;
  size: number;
  status: ConsoleModelStatus;
  error: string | null;
  inputs: TensorInfo[] | null;
  outputs: TensorInfo[] | null;
  price: string | null;
  output_id: string | null;
  version: number | null;
  publish_txid: string | null;
  created_at: number;
  updated_at: number;
}

type Row = typeof consoleModels.$inferSelect;

/** Console model names: what the registry takes (1-64 ASCII), narrowed to characters that are safe in URLs and paths. */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function toModel(r: Row): ConsoleModel {
  return {
    ...r,
    status: r.status as ConsoleModelStatus,
    inputs: r.inputs ? (JSON.parse(r.inputs) as TensorInfo[]) : null,
    outputs: r.outputs ? (JSON.parse(r.outputs) as TensorInfo[]) : null,
  };
}

/** Every upload, newest first. */
export function listModels(s: Services): ConsoleModel[] {
  return s.store.db.select().from(consoleModels).orderBy(desc(consoleModels.id)).all().map(toModel);
}

/** One upload; 404 when there is none with that id. */
export function getModel(s: Services, id: number): ConsoleModel {
  const row = s.store.db.select().from(consoleModels).where(eq(consoleModels.id, id)).get();
  if (!row) throw new ApiError('not_found', `no uploaded model with id ${id}; see GET /api/v1/admin/models`);
  return toModel(row);
}

/** Updates an upload's row. */
export function updateModel(s: Services, id: number, values: Partial<Omit<Row, 'id' | 'created_at'>>): void {
  s.store.db
    .update(consoleModels)
    .set({ ...values, updated_at: Date.now() })
    .where(eq(consoleModels.id, id))
    .run();
}

/**
 * Records an upload, loads it in onnxruntime and, when it loads, stores it in the artifact store
 * (status validated, with its inputs and outputs). A file onnxruntime cannot load is marked
 * invalid with the runtime's reason, nothing is stored, and a 422 says why.
 */
export async function uploadModel(s: Services, name: string, bytes: Uint8Array): Promise<ConsoleModel> {
  if (!MODEL_NAME.test(name))
    throw new ApiError(
      'bad_request',
      `model name "${name.slice(0, 80)}" is not allowed: use 1-64 letters, digits, dots, dashes or underscores, starting with a letter or digit`,
    );
  if (bytes.length === 0) throw new ApiError('bad_request', 'the uploaded file is empty: choose an .onnx model file');
  const sha256 = sha256Hex(bytes);
  const now = Date.now();
  const { id } = s.store.db
    .insert(consoleModels)
    .values({ name, sha256, size: bytes.length, status: 'uploaded', created_at: now, updated_at: now })
    .returning({ id: consoleModels.id })
    .get();
  const dir = s.config.models.dir;
  mkdirSync(dir, { recursive: true });
  // Checked under a temporary name: the artifact store only ever holds files onnxruntime loaded.
  const part = join(dir, `.upload-${id}-${sha256}.part`);
  writeFileSync(part, bytes);
  try {
    const io = await inspectModel(part, s.config.models.validate_timeout_ms);
    const file = join(dir, `${sha256}.onnx`);
    if (existsSync(file)) rmSync(part);
    else renameSync(part, file);
    await s.artifacts.scan();
    updateModel(s, id, {
      status: 'validated',
      error: null,
      inputs: JSON.stringify(io.inputs),
      outputs: JSON.stringify(io.outputs),
    });
    s.log.info({ model: name, sha256, size: bytes.length }, 'console upload validated');
    return getModel(s, id);
  } catch (err) {
    rmSync(part, { force: true });
    if (!(err instanceof OnnxError)) throw err;
    const reason = `onnxruntime could not load this file: ${err.message}`;
    updateModel(s, id, { status: 'invalid', error: reason });
    throw new ApiError(
      'unprocessable',
      `${name}: not a model onnxruntime can load (${err.message}); upload an ONNX model file (.onnx)`,
    );
  }
}

/** The stored file of an upload; 409 when it was never stored (invalid) or is gone from the store. */
export async function artifactPath(s: Services, model: ConsoleModel): Promise<string> {
  if (model.status === 'invalid' || model.status === 'uploaded')
    throw new ApiError(
      'conflict',
      `model ${model.id} (${model.name}) is ${model.status}${model.error ? `: ${model.error}` : ''}; upload a file onnxruntime can load`,
    );
  const artifact = await s.artifacts.find(model.sha256);
  if (!artifact)
    throw new ApiError(
      'conflict',
      `the file of model ${model.id} (sha256 ${model.sha256}) is no longer in ${s.config.models.dir}; upload it again`,
    );
  return artifact.path;
}

/** Loads a stored upload again and records what onnxruntime says (validated or invalid). */
export async function revalidateModel(s: Services, id: number): Promise<ConsoleModel> {
  const model = getModel(s, id);
  const path = await artifactPath(s, model);
  try {
    const io = await inspectModel(path, s.config.models.validate_timeout_ms);
    const status = model.status === 'published' || model.status === 'unpublished' ? model.status : 'validated';
    updateModel(s, id, { status, error: null, inputs: JSON.stringify(io.inputs), outputs: JSON.stringify(io.outputs) });
  } catch (err) {
    if (!(err instanceof OnnxError)) throw err;
    updateModel(s, id, { status: 'invalid', error: `onnxruntime could not load this file: ${err.message}` });
  }
  return getModel(s, id);
}

/**
 * One inference in onnxruntime on `inputs` (an OIP `{inputs: [...]}` body), or on inputs
 * generated from the declared shapes when none are given. A model that fails to run is a 422
 * with the runtime's words.
 */
export async function testModel(s: Services, id: number, inputs?: unknown): Promise<TestRun> {
  const model = getModel(s, id);
  const path = await artifactPath(s, model);
  const feeds: Record<string, Feed> = {};
  if (inputs !== undefined) {
    const parsed = inferenceInputsSchema.safeParse(inputs);
    if (!parsed.success)
      throw new ApiError(
        'bad_request',
        `test input: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}; send {"inputs": [{name, shape, datatype, data}]}`,
      );
    const declared = new Set((model.inputs ?? []).map((i) => i.name));
    for (const t of parsed.data.inputs) {
      if (declared.size > 0 && !declared.has(t.name))
        throw new ApiError(
          'bad_request',
          `test input "${t.name}" is not an input of ${model.name}; its inputs are ${[...declared].join(', ')}`,
        );
      try {
        const raw = decodeTensor(t);
        feeds[t.name] = { type: OIP_TO_ORT[raw.datatype], dims: raw.dims, data: raw.data };
      } catch (err) {
        if (err instanceof TensorError) throw new ApiError('bad_request', `test input: ${err.message}`);
        throw err;
      }
    }
  }
  try {
    return await testRun(path, feeds, s.config.models.validate_timeout_ms);
  } catch (err) {
    if (err instanceof OnnxError)
      throw new ApiError('unprocessable', `the test inference of ${model.name} failed in onnxruntime: ${err.message}`);
    throw err;
  }
}
