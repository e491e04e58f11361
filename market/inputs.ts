/**
 * Checks an input blob against a model's inputs before `market submit` escrows a fee: the nodes
 * refuse an input of the wrong name, datatype or shape, and the fee would be spent on a task
 * that can only fail. Same rules as the node's check (node-agent/validate), in the user's room.
 */
import {
  decodeBinaryInputs,
  decodeTensor,
  inferenceInputsSchema,
  isBinaryInputs,
  TensorError,
} from '../protocol/index.js';
import type { TensorSpec } from './signer-client.js';

/** What the input file holds, per tensor. */
interface Given {
  name: string;
  datatype: string;
  shape: number[];
  /** Checks that the data fits the shape and datatype (throws TensorError otherwise). */
  check(): void;
}

const shapeText = (shape: readonly number[]) => `[${shape.map((d) => (d < 0 ? '?' : d)).join(', ')}]`;

function parse(bytes: Uint8Array): Given[] {
  if (isBinaryInputs(bytes)) {
    return decodeBinaryInputs(bytes).map(({ name, tensor }) => ({
      name,
      datatype: tensor.datatype,
      shape: tensor.dims,
      check: () => undefined,
    }));
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new InputMismatch(`the input is not valid JSON (${(e as Error).message})`);
  }
  const parsed = inferenceInputsSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.join('.') || '(root)';
    throw new InputMismatch(
      `the input is not in the form {"inputs":[{name, shape, datatype, data}]}: ${where}: ${issue.message}`,
    );
  }
  return parsed.data.inputs.map((t) => ({
    name: t.name,
    datatype: t.datatype,
    shape: t.shape,
    check: () => void decodeTensor(t),
  }));
}

/** The input does not fit the model; the message says what was expected and what was given. */
export class InputMismatch extends Error {
  override name = 'InputMismatch';
}

/** Throws InputMismatch saying what is wrong when `bytes` (JSON or binary OIP inputs) do not fit `model`'s `inputs`. */
export function checkInputs(bytes: Uint8Array, model: string, inputs: TensorSpec[]): void {
  let given: Given[];
  try {
    given = parse(bytes);
  } catch (e) {
    if (e instanceof TensorError) throw new InputMismatch(`the input cannot be read: ${e.message}`);
    throw e;
  }
  const expected = new Map(inputs.map((i) => [i.name, i]));
  const names = inputs.map((i) => `"${i.name}" ${i.datatype} ${shapeText(i.shape)}`).join(', ');
  const seen = new Set<string>();
  for (const t of given) {
    const want = expected.get(t.name);
    if (!want) throw new InputMismatch(`model "${model}" has no input "${t.name}": expected ${names}`);
    if (seen.has(t.name)) throw new InputMismatch(`input "${t.name}" is given twice`);
    seen.add(t.name);
    if (t.datatype !== want.datatype)
      throw new InputMismatch(`input "${t.name}": expected datatype ${want.datatype}, got ${t.datatype}`);
    const fits =
      t.shape.length === want.shape.length &&
      t.shape.every((d, i) => d > 0 && (want.shape[i]! < 0 || want.shape[i] === d));
    if (!fits)
      throw new InputMismatch(
        `input "${t.name}": expected shape ${shapeText(want.shape)} (? is any size), got ${shapeText(t.shape)}`,
      );
    try {
      t.check();
    } catch (e) {
      if (e instanceof TensorError) throw new InputMismatch(`input "${t.name}": ${e.message}`);
      throw e;
    }
  }
  const missing = inputs.filter((i) => !seen.has(i.name));
  if (missing.length > 0)
    throw new InputMismatch(
      `missing input ${missing.map((i) => `"${i.name}" ${i.datatype} ${shapeText(i.shape)}`).join(', ')}`,
    );
}
