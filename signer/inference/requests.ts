/**
 * One direct request from body to outcome, shared by the /api/v1 routes and the Open Inference
 * Protocol route: its options checked against the config, its tensors checked before they queue
 * (a malformed tensor is a 400 now, not a node's error report later), then queued and, for a
 * waiting caller, awaited.
 */
import { decodeTensor, TensorError, type OipTensor } from '../../protocol/index.js';
import type { ModelHead } from '../catalog/index.js';
import { ApiError } from '../errors.js';
import type { Services } from '../services.js';
import type { TaskRow } from '../tasks/index.js';
import type { ModelIo } from './io.js';
import type { QueuedInput } from './queue.js';
import { liveModel } from './models.js';
import { priceMetered, reserveMetered } from '../accounts/index.js';
import { guardInputs, markTrustedOnly } from '../guard/index.js';

/** What a caller may ask of one request besides its inputs. */
export interface RequestOptions {
  priority?: number;
  timeout_ms?: number;
}

/** Who asks, for metering and for reading the result back. */
export interface Caller {
  tokenId: number | null;
  requestId: string;
}

/** Priority and timeout of a request, defaulted and bounded by the `[inference]` config. */
export function resolveOptions(
  s: Pick<Services, 'config'>,
  o: RequestOptions,
): { priority: number; timeoutMs: number } {
  const { default_priority, timeout_ms, max_timeout_ms } = s.config.inference;
  if (o.timeout_ms !== undefined && o.timeout_ms > max_timeout_ms) {
    throw new ApiError(
      'bad_request',
      `timeout_ms: at most ${max_timeout_ms} ms on this signer (inference.max_timeout_ms); use async=1 and poll for longer work`,
    );
  }
  return { priority: o.priority ?? default_priority, timeoutMs: o.timeout_ms ?? timeout_ms };
}

/** Decodes every tensor once (data count against shape, value types); a bad one is a 400 naming it. */
export function checkTensors(inputs: OipTensor[], where = 'inputs'): void {
  const seen = new Set<string>();
  inputs.forEach((t, i) => {
    if (seen.has(t.name)) throw new ApiError('bad_request', `${where}.${i}: input "${t.name}" is given twice`);
    seen.add(t.name);
    try {
      decodeTensor(t);
    } catch (e) {
      if (e instanceof TensorError) throw new ApiError('bad_request', `${where}.${i}: ${e.message}`);
      throw e;
    }
  });
}

/** Checks inputs against the model's recorded inputs (names, datatypes, fixed dimensions), so a mismatch is a 400 now rather than a node's error report on every attempt. */
export function checkAgainstModel(inputs: OipTensor[], io: ModelIo, where = 'inputs'): void {
  const expected = new Map(io.inputs.map((m) => [m.name, m]));
  const takes = () => io.inputs.map((m) => `"${m.name}" ${m.datatype} [${m.shape.join(',')}]`).join(', ');
  inputs.forEach((t, i) => {
    const meta = expected.get(t.name);
    if (!meta)
      throw new ApiError('bad_request', `${where}.${i}: the model has no input "${t.name}"; it takes ${takes()}`);
    if (meta.datatype !== t.datatype)
      throw new ApiError('bad_request', `${where}.${i}: input "${t.name}" must be ${meta.datatype}, got ${t.datatype}`);
    const fits = t.shape.length === meta.shape.length && meta.shape.every((d, k) => d < 0 || d === t.shape[k]);
    if (!fits)
      throw new ApiError(
        'bad_request',
        `${where}.${i}: input "${t.name}" must have shape [${meta.shape.join(',')}] (-1: any size), got [${t.shape.join(',')}]`,
      );
  });
  const missing = io.inputs.filter((m) => !inputs.some((t) => t.name === m.name));
  if (missing.length)
    throw new ApiError(
      'bad_request',
      `${where}: missing input ${missing.map((m) => `"${m.name}"`).join(', ')}; the model takes ${takes()}`,
    );
}

/** A model's live version and the queued tasks of one or more input sets. */
export interface Queued {
  model: ModelHead;
  tasks: TaskRow[];
}

/** Looks the model up, checks the inputs, and queues one task per request (all or none); a batch is metered by its route as one request. */
export async function queueRequests(
  s: Services,
  modelName: string,
  requests: QueuedInput[],
  o: RequestOptions,
  caller: Caller,
  batch = false,
): Promise<Queued> {
  const { priority, timeoutMs } = resolveOptions(s, o);
  const where = (i: number) => (batch ? `requests.${i}.inputs` : 'inputs');
  for (const [i, r] of requests.entries()) checkTensors(r.inputs, where(i));
  const model = await liveModel(s, modelName);
  // Personal data is masked (the body as sent is then not what nodes get) or refused before anything queues.
  const guarded = guardInputs(
    s.store,
    s.guard,
    { tokenId: caller.tokenId, model: model.name, artifactHash: model.artifact_hash, requestId: caller.requestId },
    requests.map((r) => r.inputs),
    batch,
  );
  requests = requests.map((r, i) => (guarded.inputs[i] === r.inputs ? r : { inputs: guarded.inputs[i]! }));
  // A model whose IO is not read yet is checked by the node this once.
  const io = s.inference.io.known(model.artifact_hash);
  if (io) for (const [i, r] of requests.entries()) checkAgainstModel(r.inputs, io, where(i));
  // A token bound to a prepaid account pays per call: priced now (chain reads), reserved with the tasks.
  const metered =
    caller.tokenId === null
      ? null
      : await priceMetered(s.accounts, s.store, caller.tokenId, caller.requestId, model, requests.length);
  // Both inside the transaction that creates the tasks: no node can lease an L2 task before it is marked trusted-only.
  const within = (tasks: TaskRow[]) => {
    if (guarded.trustedOnly)
      markTrustedOnly(
        s.store,
        tasks.map((t) => t.task_id),
      );
    if (metered) reserveMetered(s.store, metered, tasks);
  };
  const tasks = s.inference.enqueue(requests, {
    model,
    tokenId: caller.tokenId,
    requestId: caller.requestId,
    priority,
    timeoutMs,
    batch,
    within,
  });
  return { model, tasks };
}

/**
 * Queues one encrypted request (signer/privacy): its input is the envelope `inputHash` that the
 * caller sealed to reserved nodes, so neither the tensor checks nor the policy guard can read it;
 * the node opens it, checks it against the hash and reports what is wrong with it.
 */
export async function queueSealedRequest(
  s: Services,
  modelName: string,
  inputHash: string,
  o: RequestOptions,
  caller: Caller,
): Promise<Queued> {
  const { priority, timeoutMs } = resolveOptions(s, o);
  const model = await liveModel(s, modelName);
  const metered =
    caller.tokenId === null
      ? null
      : await priceMetered(s.accounts, s.store, caller.tokenId, caller.requestId, model, 1);
  const tasks = s.inference.enqueue([{ inputs: [], sealedInputHash: inputHash }], {
    model,
    tokenId: caller.tokenId,
    requestId: caller.requestId,
    priority,
    timeoutMs,
    within: (created) => {
      if (metered) reserveMetered(s.store, metered, created);
    },
  });
  return { model, tasks };
}
