/**
 * Read-only access to the model-registry through the signer's `Chain`: heads, single outputs,
 * and an incremental scan of every output, which is how the catalog learns model names the
 * signer has not seen in a task and finds the last output of a retired model.
 */
import { Cl, ClarityType, type ClarityValue } from '@stacks/transactions';
import { MODEL_REGISTRY, decodeModelOutput, type ModelOutput } from '../../protocol/index.js';
import type { Chain } from '../chain/index.js';
import { ApiError } from '../errors.js';

/** Outputs read in parallel while scanning. */
const SCAN_CONCURRENCY = 8;

/**
 * A read-only call; a chain that cannot be read is a 503 naming the call, so that callers (direct
 * inference, the dashboard, the console) answer "try later" rather than fail with a bug.
 */
export async function readOnly(
  chain: Chain,
  contract: string,
  fn: string,
  args: ClarityValue[],
): Promise<ClarityValue> {
  try {
    return await chain.callReadOnly(contract, fn, args);
  } catch (err) {
    throw new ApiError(
      'unavailable',
      `cannot read ${contract}.${fn} from the chain (chain.api_url): ${(err as Error).message}`,
    );
  }
}

/** An output with its id (always known here). */
export type RegistryOutput = ModelOutput & { outputId: bigint };

/** Reads of one registry; spent outputs never change again, so they are cached for good. */
export class RegistryReader {
  readonly #spent = new Map<bigint, RegistryOutput>();
  readonly #newestByName = new Map<string, bigint>();
  #scannedUpTo = 0n;
  #scan: Promise<void> | null = null;

  constructor(private readonly chain: Chain) {}

  /** The live output of `name`, or null when it was never deployed or is retired. */
  async head(name: string): Promise<RegistryOutput | null> {
    // The registry holds 1-64 printable ASCII characters; any other name cannot be in it (and cannot be sent as an argument).
    if (!/^[\x20-\x7e]{1,64}$/.test(name)) return null;
    const out = decodeModelOutput(await readOnly(this.chain, MODEL_REGISTRY, 'get-head', [Cl.stringAscii(name)]));
    return out && out.outputId !== null ? (out as RegistryOutput) : null;
  }

  /** Any output by id, spent or not; null when there is none. */
  async output(id: bigint): Promise<RegistryOutput | null> {
    const cached = this.#spent.get(id);
    if (cached) return cached;
    const out = decodeModelOutput(await readOnly(this.chain, MODEL_REGISTRY, 'get-output', [Cl.uint(id)]));
    if (!out) return null;
    const withId = { ...out, outputId: id };
    if (withId.spent) this.#spent.set(id, withId);
    return withId;
  }

  /** Id of the newest output of any model (0 before the first deployment). */
  async lastOutputId(): Promise<bigint> {
    const cv = await readOnly(this.chain, MODEL_REGISTRY, 'get-last-output-id', []);
    if (cv.type !== ClarityType.UInt) throw new Error(`get-last-output-id returned ${cv.type}, expected a uint`);
    return BigInt(cv.value);
  }

  /** Model name -> id of its newest output, for every output created so far (reads only the new ones). */
  async names(): Promise<ReadonlyMap<string, bigint>> {
    // Concurrent callers share one scan instead of reading the same outputs twice.
    this.#scan ??= this.#scanNew().finally(() => (this.#scan = null));
    await this.#scan;
    return this.#newestByName;
  }

  async #scanNew(): Promise<void> {
    const last = await this.lastOutputId();
    while (this.#scannedUpTo < last) {
      const ids: bigint[] = [];
      for (let id = this.#scannedUpTo + 1n; id <= last && ids.length < SCAN_CONCURRENCY; id++) ids.push(id);
      const outputs = await Promise.all(ids.map((id) => this.output(id)));
      for (const out of outputs) if (out) this.#newestByName.set(out.model, out.outputId);
      this.#scannedUpTo = ids[ids.length - 1];
    }
  }
}
