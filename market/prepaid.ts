/**
 * The requester's client of prepaid accounts (contracts/accounts.clar, the signer's
 * `/api/v1/requests` and `/api/v1/accounts/...` routes): sign task requests, post them in
 * batches, and for each result "pay, then reveal": check every leaf the signer asks to be paid for
 * (protocol/accounts `authorizeLeaves`: this key's own request, at this market, within its max
 * fee), sign one cumulative authorization covering a batch of them, then read the outputs and
 * check each hashes to the leaf's output hash. The signer is trusted for nothing it could lie
 * about: a leaf this key never signed, an authorization it did not sign, or an output that is
 * not the one paid for stops the client with a `DishonestSigner` error.
 *
 * Used by `market submit --prepaid`, the benchmarks and the end-to-end tests (no import of
 * signer/: this is what any user's program would run).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isErrorCode, jsonHash, requesterAuthHeaders, type ErrorCode } from '../protocol/index.js';
import {
  EMPTY_ROOT,
  accountsMessageHash,
  authorizeLeaves,
  fromLeafJson,
  leafHash,
  prepaidTaskId,
  priceQuoteCV,
  principalOfKey,
  publicKeyOf,
  signAccountsMessage,
  signTaskRequest,
  spendAuthorizationCV,
  taskRequestCV,
  toAuthorizationJson,
  toTaskRequestJson,
  verifyAccountsMessage,
  type AuthorizationState,
  type ReceiptLeaf,
  type ReceiptLeafJson,
  type TaskRequest,
} from '../protocol/index.js';
import { SealedResultError } from './sealed.js';
import { SignerRefusal } from './signer-client.js';

/** The signer served something this key never agreed to; the client stops rather than sign on top of it. */
export class DishonestSigner extends Error {
  constructor(
    message: string,
    /**
     * `leaf_not_signed` (a request signature this key never made), `leaf_refused` (another
     * account's or market's leaf, or a fee above the request's max fee), `authorization_not_signed`
     * (the latest authorization served is not this key's), `output_mismatch` (the revealed output is
     * not the one paid for), `leaf_mismatch` (a leaf under another task's id, or asked for twice).
     */
    readonly code:
      | 'leaf_not_signed'
      | 'leaf_refused'
      | 'authorization_not_signed'
      | 'output_mismatch'
      | 'leaf_mismatch',
  ) {
    super(message);
    this.name = 'DishonestSigner';
  }
}

/** A request signed by the account key, with its task id at the signer. */
export interface SignedRequest {
  request: TaskRequest;
  signature: string;
  /** prepaidTaskId(accountsMessageHash(request)): the signer's id for it. */
  taskId: string;
}

/** What the caller asks for; the client fills in account, market, nonce and expiry. */
export interface RequestParams {
  modelOutput: bigint;
  inputHash: string;
  maxFee: bigint;
  security?: bigint;
  /** Unix seconds; default now + 10 minutes. */
  expiry?: bigint;
  /** Default a random 64-bit number (nonces are unique per account, not sequential). */
  nonce?: bigint;
}

/** A price quote the signer signed (GET /api/v1/quote), checked by `PrepaidClient.quote`. */
export interface SignedQuote {
  account: string;
  market: string;
  modelOutput: bigint;
  price: bigint;
  /** Unix seconds. */
  expiry: bigint;
  signature: string;
}

/** One item's answer from POST /api/v1/requests. */
export type SubmitOutcome =
  | { taskId: string; status: 'accepted' | 'duplicate' }
  | { taskId: string; status: 'refused'; code: ErrorCode; error: string };

/** A signer answer: its status, the envelope's data and error, and its code when the protocol knows it. */
type HttpAnswer<T> = { status: number; data: T | null; error: string | null; code: ErrorCode | null };

/** A revealed result, checked: the output hashes to the paid leaf's output hash. */
export interface Revealed {
  taskId: string;
  output: unknown;
  outputHash: string;
  leaf: ReceiptLeaf;
  /**
   * An encrypted request's result as the signer served it: `output` is then the cipher object, which
   * only the wallet opens (market/sealed.ts openSealedResult checks it against the leaf's output hash).
   */
  sealed?: { sealed_signature: string | null; signature: string; node_public_key: string };
}

/** Where one task is, as GET /api/v1/requests/{id}/result says. */
export type ResultState =
  | { state: 'revealed'; result: Revealed }
  | { state: 'due'; leaf: ReceiptLeaf }
  | { state: 'running' }
  | { state: 'failed'; error: string };

/** The latest authorization as the signer serves it; with a signature whenever the nonce is above 0. */
interface ServedAuthorization {
  cumulative: string;
  nonce: string;
  market?: string;
  receipts_root?: string;
  signature?: string;
}

/** An authorization this client signed and the signer accepted, as kept in `stateFile`. */
interface OwnAuthorization {
  cumulative: string;
  nonce: string;
  receipts_root: string;
  signature: string;
}

export interface PrepaidClientOptions {
  /**
   * A JSON file where the client keeps the last authorization it signed (so a later process
   * can recognise it when the signer serves it without its signature); none: in memory only.
   */
  stateFile?: string;
  signerUrl: string;
  /** Chain id the signatures are bound to (CHAIN_ID.testnet for the devnet). */
  chainId: number;
  /** accounts.clar's contract principal. */
  market: string;
  /** The account's private key (hex). */
  privateKey: string;
  /**
   * True when this wallet sealed the input with this hash (it holds its envelope): that task's output is
   * a cipher object, opened and checked against the leaf by market/sealed.ts instead of hashed here.
   */
  sealedInput?: (inputHash: string) => boolean;
}

const MAX_REQUESTS_PER_POST = 100;

/** One account's prepaid client. Payments are serialized (each authorization continues from the last). */
export class PrepaidClient {
  readonly account: string;
  readonly publicKey: string;
  /** Requests this client signed, by task id: a due leaf must be one of them to be paid. */
  private readonly signed = new Map<string, SignedRequest>();
  /** Leaf hashes this client has paid for: never paid twice. */
  private readonly paid = new Set<string>();
  private paying: Promise<unknown> = Promise.resolve();
  /** The last authorization this client (or a process sharing its state file) signed and had accepted. */
  private own: OwnAuthorization | null = null;

  constructor(readonly opts: PrepaidClientOptions) {
    this.publicKey = publicKeyOf(opts.privateKey);
    this.account = principalOfKey(this.publicKey, opts.chainId);
    if (opts.stateFile && existsSync(opts.stateFile)) {
      const saved = JSON.parse(readFileSync(opts.stateFile, 'utf8')) as {
        account?: string;
        market?: string;
        authorization?: OwnAuthorization;
      };
      if (saved.account === this.account && saved.market === opts.market && saved.authorization)
        this.own = saved.authorization;
    }
  }

  private remember(a: OwnAuthorization): void {
    this.own = a;
    if (!this.opts.stateFile) return;
    mkdirSync(dirname(this.opts.stateFile), { recursive: true });
    writeFileSync(
      this.opts.stateFile,
      `${JSON.stringify({ account: this.account, market: this.opts.market, authorization: a }, null, 2)}\n`,
      { mode: 0o600 },
    );
  }

  /** Signs a task request (random 64-bit nonce, expiry in 10 minutes unless given). */
  sign(p: RequestParams): SignedRequest {
    const request: TaskRequest = {
      account: this.account,
      market: this.opts.market,
      modelOutput: p.modelOutput,
      inputHash: p.inputHash.toLowerCase(),
      maxFee: p.maxFee,
      expiry: p.expiry ?? BigInt(Math.floor(Date.now() / 1000) + 600),
      security: p.security ?? 1n,
      nonce: p.nonce ?? randomBytes(8).readBigUInt64BE(),
    };
    const signature = signTaskRequest(request, this.opts.chainId, this.opts.privateKey);
    const taskId = prepaidTaskId(accountsMessageHash(taskRequestCV(request), this.opts.chainId));
    const s = { request, signature, taskId };
    this.signed.set(taskId, s);
    return s;
  }

  private async http<T>(method: string, path: string, body?: unknown, signed = false): Promise<HttpAnswer<T>> {
    const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
    if (signed) Object.assign(headers, requesterAuthHeaders(method, path, this.opts.chainId, this.opts.privateKey));
    let res: Response;
    try {
      res = await fetch(new URL(path, this.opts.signerUrl), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new Error(
        `cannot reach the signer at ${this.opts.signerUrl} (${(e as Error).cause ?? (e as Error).message}); is it running?`,
      );
    }
    const env = (await res.json().catch(() => null)) as { data?: T; error?: string; code?: string } | null;
    const code = isErrorCode(env?.code) ? env.code : null;
    return {
      status: res.status,
      data: env?.data ?? null,
      error: env?.error ?? (res.ok ? null : `HTTP ${res.status}`),
      code,
    };
  }

  private refusal(what: string, r: { status: number; error: string | null; code: ErrorCode | null }): SignerRefusal {
    return new SignerRefusal(`${what}: ${r.error}`, r.status, r.code);
  }

  /**
   * Posts signed requests (100 per call), each with its input bytes when the signer may not hold
   * them yet. One refused item does not sink the others: its outcome says why.
   */
  async submit(
    items: { signed: SignedRequest; input?: Uint8Array; quote?: SignedQuote; sealed?: boolean }[],
  ): Promise<SubmitOutcome[]> {
    const out: SubmitOutcome[] = [];
    for (let i = 0; i < items.length; i += MAX_REQUESTS_PER_POST) {
      const chunk = items.slice(i, i + MAX_REQUESTS_PER_POST);
      const body = {
        requests: chunk.map(({ signed, input, quote, sealed }) => ({
          request: toTaskRequestJson(signed.request),
          signature: signed.signature,
          public_key: this.publicKey,
          // Sealed to reserved nodes beforehand: the request carries no clear input.
          ...(sealed ? { privacy: 'encrypted' } : {}),
          ...(input ? { input_base64: Buffer.from(input).toString('base64') } : {}),
          ...(quote
            ? { quote: { price: quote.price.toString(), expiry: quote.expiry.toString(), signature: quote.signature } }
            : {}),
        })),
      };
      const r = await this.http<{
        results: (
          | { task_id: string; status: 'accepted' | 'duplicate' }
          | { index: number; success: false; code: ErrorCode; error: string }
        )[];
      }>('POST', '/api/v1/requests', body);
      if (r.status >= 300 || !r.data) throw this.refusal('posting task requests', r);
      r.data.results.forEach((res, j) => {
        const taskId = chunk[j]!.signed.taskId;
        if ('task_id' in res) {
          if (res.task_id !== taskId)
            throw new DishonestSigner(
              `the signer named request ${j} task ${res.task_id}; its id is ${taskId}`,
              'leaf_mismatch',
            );
          out.push({ taskId, status: res.status });
        } else out.push({ taskId, status: 'refused', code: res.code, error: res.error });
      });
    }
    return out;
  }

  /**
   * The signer's price for one run of `modelOutput` for this account (volume tier and demand),
   * signed so that a request carrying it is charged that price. Checked here: it is for this
   * account, market and model, not below the model's on-chain price, and signed by the key the
   * signer names (`settlerKey`, when the caller read it from the chain's get-signer, must be it).
   */
  async quote(modelOutput: bigint, onchainPrice: bigint, settlerKey?: string): Promise<SignedQuote> {
    const r = await this.http<{
      account: string;
      market: string;
      model_output: string;
      price: string;
      expiry: string;
      signer_public_key: string;
      signature: string;
    }>('GET', `/api/v1/quote?account=${this.account}&model_output=${modelOutput}`);
    if (r.status >= 300 || !r.data) throw this.refusal('asking for a quote', r);
    const d = r.data;
    const q = {
      account: d.account,
      market: d.market,
      modelOutput: BigInt(d.model_output),
      price: BigInt(d.price),
      expiry: BigInt(d.expiry),
    };
    const key = settlerKey ?? d.signer_public_key;
    if (q.account !== this.account || q.market !== this.opts.market || q.modelOutput !== modelOutput)
      throw new DishonestSigner(
        `the quote is for ${q.account} at ${q.market}, model output ${q.modelOutput}; asked for ${this.account} at ${this.opts.market}, ${modelOutput}`,
        'leaf_mismatch',
      );
    if (q.price < onchainPrice)
      throw new DishonestSigner(
        `the quote's price ${q.price} µSTX is below the model's on-chain price ${onchainPrice}: the signer would not honour it`,
        'leaf_mismatch',
      );
    if (!verifyAccountsMessage(priceQuoteCV(q), this.opts.chainId, d.signature, key))
      throw new DishonestSigner(`the quote is not signed by the signer's key ${key}`, 'leaf_mismatch');
    return { ...q, signature: d.signature };
  }

  /** The account at the signer (public): chain mirror, latest authorization, owed, reserved, unsettled. */
  async accountView(): Promise<Record<string, unknown> | null> {
    const r = await this.http<Record<string, unknown>>('GET', `/api/v1/accounts/${this.account}`);
    if (r.code === 'account_not_found') return null;
    if (r.status >= 300) throw this.refusal(`reading account ${this.account} at the signer`, r);
    return r.data;
  }

  /**
   * Where the next authorization continues from: the latest one the signer holds, after checking
   * it is one this key signed (a signer could otherwise serve a made-up, higher cap, and the next
   * authorization would sign it over).
   */
  verifyLatest(served: ServedAuthorization): AuthorizationState {
    const state = { cumulative: BigInt(served.cumulative), nonce: BigInt(served.nonce) };
    // Nonce 0 is "none yet": nothing was signed, and continuing from a zero cap gives nothing away.
    if (state.nonce === 0n && state.cumulative === 0n) return state;
    if (!served.signature || !served.receipts_root) {
      // Without the signature, only an authorization this client itself signed can be recognised.
      const own = this.own;
      if (own && own.cumulative === state.cumulative.toString() && own.nonce === state.nonce.toString()) {
        if (!served.receipts_root || served.receipts_root === own.receipts_root) return state;
      }
      throw new DishonestSigner(
        `the signer holds an authorization of ${state.cumulative} µSTX (nonce ${state.nonce}) for ${this.account} but did not serve its signature and receipts root, and it is not the last one this client signed, so this key cannot check it signed it; refusing to sign on top of it`,
        'authorization_not_signed',
      );
    }
    const auth = {
      account: this.account,
      market: served.market ?? this.opts.market,
      cumulative: state.cumulative,
      nonce: state.nonce,
      receiptsRoot: served.receipts_root,
    };
    if (
      auth.market !== this.opts.market ||
      !verifyAccountsMessage(spendAuthorizationCV(auth), this.opts.chainId, served.signature, this.publicKey)
    ) {
      throw new DishonestSigner(
        `the latest authorization the signer serves for ${this.account} (${state.cumulative} µSTX, nonce ${state.nonce}) is not signed by this key at ${this.opts.market}; refusing to sign on top of it`,
        'authorization_not_signed',
      );
    }
    return state;
  }

  /** What the signer asks this account to pay for (requester-signed), leaves parsed. */
  async due(): Promise<{ authorization: ServedAuthorization; leaves: { taskId: string; leaf: ReceiptLeaf }[] }> {
    const r = await this.http<{
      authorization: ServedAuthorization;
      leaves: { task_id: string; leaf: ReceiptLeafJson }[];
    }>('GET', `/api/v1/accounts/${this.account}/due`, undefined, true);
    if (r.status >= 300 || !r.data) throw this.refusal(`reading what ${this.account} owes`, r);
    return {
      authorization: r.data.authorization,
      leaves: r.data.leaves.map((l) => ({ taskId: l.task_id, leaf: fromLeafJson(l.leaf) })),
    };
  }

  /**
   * Checks that `leaf` is exactly the request this client signed for `taskId` (when it signed it
   * in this process) and that the id is the request's own. Throws DishonestSigner otherwise.
   */
  private checkLeaf(taskId: string, leaf: ReceiptLeaf): void {
    const id = prepaidTaskId(accountsMessageHash(taskRequestCV(leaf.request), this.opts.chainId));
    if (id !== taskId)
      throw new DishonestSigner(`the signer's leaf for task ${taskId} is the request of task ${id}`, 'leaf_mismatch');
    const mine = this.signed.get(taskId);
    if (
      mine &&
      mine.signature !== leaf.requestSignature &&
      !verifyAccountsMessage(taskRequestCV(leaf.request), this.opts.chainId, leaf.requestSignature, this.publicKey)
    ) {
      throw new DishonestSigner(
        `the leaf of task ${taskId} carries a request signature this key never made`,
        'leaf_not_signed',
      );
    }
  }

  /**
   * Pays for the due leaves of `taskIds` (all due leaves of requests this client signed when
   * omitted) with one new authorization, after checking each leaf and the latest authorization.
   * A concurrent payment by another process (nonce_too_low) is retried from the new latest.
   * Returns the task ids paid for (those not due yet are left out).
   */
  pay(taskIds?: string[]): Promise<string[]> {
    const run = this.paying.then(() => this.payNow(taskIds));
    this.paying = run.catch(() => undefined);
    return run;
  }

  private async payNow(taskIds?: string[], attempt = 0): Promise<string[]> {
    const due = await this.due();
    const wanted = taskIds ? new Set(taskIds) : new Set(this.signed.keys());
    const chosen = due.leaves.filter((l) => wanted.has(l.taskId));
    if (chosen.length === 0) return [];
    for (const { taskId, leaf } of chosen) {
      this.checkLeaf(taskId, leaf);
      const r = leaf.request;
      if (r.account !== this.account || r.market !== this.opts.market)
        throw new DishonestSigner(
          `refusing to pay: the leaf of task ${taskId} is a request of ${r.account} at ${r.market}, not of ${this.account} at ${this.opts.market}`,
          'leaf_refused',
        );
      if (!verifyAccountsMessage(taskRequestCV(r), this.opts.chainId, leaf.requestSignature, this.publicKey))
        throw new DishonestSigner(
          `refusing to pay: the leaf of task ${taskId} (nonce ${r.nonce}) carries a request this key never signed`,
          'leaf_not_signed',
        );
      if (leaf.fee > r.maxFee)
        throw new DishonestSigner(
          `refusing to pay: the leaf of task ${taskId} charges ${leaf.fee} µSTX, above its max fee ${r.maxFee}`,
          'leaf_refused',
        );
      if (this.paid.has(leafHash(leaf)))
        throw new DishonestSigner(
          `the signer asks again to be paid for task ${taskId}, which this client paid for already`,
          'leaf_mismatch',
        );
    }
    const previous = this.verifyLatest(due.authorization);
    // authorizeLeaves checks the same again (protocol/accounts is the one definition of a payable leaf).
    const signedAuth = authorizeLeaves(
      previous,
      chosen.map((c) => c.leaf),
      this.opts.market,
      this.opts.chainId,
      this.opts.privateKey,
    );
    let r: Awaited<ReturnType<PrepaidClient['http']>>;
    try {
      r = await this.http('POST', `/api/v1/accounts/${this.account}/authorizations`, {
        authorization: toAuthorizationJson(signedAuth.authorization, signedAuth.signature),
        task_ids: chosen.map((c) => c.taskId),
      });
    } catch (e) {
      // The connection broke: the signer may or may not hold this authorization. Start again from
      // what it serves (signed by this key, or refused), never from a guess.
      if (attempt < 3) return this.payNow(taskIds, attempt + 1);
      throw e;
    }
    if (r.status >= 300) {
      // Another client of the same account paid in between: start again from its authorization.
      if ((r.code === 'nonce_too_low' || r.code === 'cap_too_low' || r.code === 'not_due') && attempt < 3)
        return this.payNow(taskIds, attempt + 1);
      throw this.refusal('posting the spend authorization', r);
    }
    for (const c of chosen) this.paid.add(leafHash(c.leaf));
    const a = signedAuth.authorization;
    this.remember({
      cumulative: a.cumulative.toString(),
      nonce: a.nonce.toString(),
      receipts_root: a.receiptsRoot,
      signature: signedAuth.signature,
    });
    return chosen.map((c) => c.taskId);
  }

  /**
   * Raises the allowance API tokens bound to this account spend from (signer/accounts/metered.ts):
   * signs the next authorization with cap = the latest cap (checked as this key's, verifyLatest)
   * + `ustx` and no leaves (empty receipts root), and posts it. A concurrent payment by another
   * client of the key (nonce_too_low, cap_too_low) is retried from the new latest. Returns the
   * signed cap and the signer's view of the account afterwards (its `allowance.headroom`).
   */
  allow(ustx: bigint): Promise<{ cumulative: bigint; nonce: bigint; account: Record<string, unknown> }> {
    if (ustx <= 0n) return Promise.reject(new Error('an allowance raises the cap by a positive amount of µSTX'));
    const run = this.paying.then(() => this.allowNow(ustx));
    this.paying = run.catch(() => undefined);
    return run;
  }

  private async allowNow(
    ustx: bigint,
    attempt = 0,
  ): Promise<{ cumulative: bigint; nonce: bigint; account: Record<string, unknown> }> {
    const previous = this.verifyLatest((await this.due()).authorization);
    const authorization = {
      account: this.account,
      market: this.opts.market,
      cumulative: previous.cumulative + ustx,
      nonce: previous.nonce + 1n,
      receiptsRoot: EMPTY_ROOT,
    };
    const signature = signAccountsMessage(spendAuthorizationCV(authorization), this.opts.chainId, this.opts.privateKey);
    const r = await this.http<{ account: Record<string, unknown> }>(
      'POST',
      `/api/v1/accounts/${this.account}/authorizations`,
      {
        authorization: toAuthorizationJson(authorization, signature),
        task_ids: [],
        public_key: this.publicKey,
      },
    );
    if (r.status >= 300 || !r.data) {
      if ((r.code === 'nonce_too_low' || r.code === 'cap_too_low') && attempt < 3)
        return this.allowNow(ustx, attempt + 1);
      throw this.refusal('posting the allowance', r);
    }
    this.remember({
      cumulative: authorization.cumulative.toString(),
      nonce: authorization.nonce.toString(),
      receipts_root: EMPTY_ROOT,
      signature,
    });
    return { cumulative: authorization.cumulative, nonce: authorization.nonce, account: r.data.account };
  }

  /** One task's state: revealed (checked), due (pay first), running or failed. */
  async result(taskId: string): Promise<ResultState> {
    const r = await this.http<{
      output: unknown;
      output_hash: string;
      leaf: ReceiptLeafJson;
      signature: string;
      node_public_key: string;
      sealed_signature?: string | null;
    }>('GET', `/api/v1/requests/${taskId}/result`, undefined, true);
    if (r.status === 200 && r.data) {
      const leaf = fromLeafJson(r.data.leaf);
      this.checkLeaf(taskId, leaf);
      if (r.data.output_hash !== leaf.outputHash)
        throw new DishonestSigner(
          `task ${taskId}: the signer revealed output hash ${r.data.output_hash}, but the leaf paid for says ${leaf.outputHash}`,
          'output_mismatch',
        );
      const revealed = { taskId, output: r.data.output, outputHash: leaf.outputHash, leaf };
      // Sealed: its ciphertext is checked against the leaf by whoever holds the wallet key and the envelope.
      if (this.opts.sealedInput?.(leaf.request.inputHash))
        return {
          state: 'revealed',
          result: {
            ...revealed,
            sealed: {
              sealed_signature: r.data.sealed_signature ?? null,
              signature: r.data.signature,
              node_public_key: r.data.node_public_key,
            },
          },
        };
      const o = r.data.output as { cipherText?: unknown } | null;
      if (typeof o === 'object' && o !== null && typeof o.cipherText === 'string')
        throw new SealedResultError(
          'envelope_missing',
          `task ${taskId}'s output is sealed, and no envelope for input ${leaf.request.inputHash} is saved here: run market from the data directory that submitted it (if this wallet never sealed it, the signer served a sealed output for a clear task: keep this as evidence)`,
        );
      if (jsonHash(r.data.output) !== leaf.outputHash)
        throw new DishonestSigner(
          `task ${taskId}: the revealed output does not hash to the leaf's output hash ${leaf.outputHash}`,
          'output_mismatch',
        );
      return { state: 'revealed', result: revealed };
    }
    switch (r.code) {
      case 'payment_required': {
        const leaf = fromLeafJson((r.data as unknown as { leaf: ReceiptLeafJson }).leaf);
        this.checkLeaf(taskId, leaf);
        return { state: 'due', leaf };
      }
      case 'result_not_ready':
        return { state: 'running' };
      case 'request_failed':
        return { state: 'failed', error: r.error ?? 'failed' };
      default:
        throw this.refusal(`result of task ${taskId}`, r);
    }
  }

  /**
   * Waits for one task: polls its result, pays when it is due, returns the checked output.
   * Throws SignerRefusal `request_failed` (never run, or its runs failed) or on timeout.
   */
  async waitFor(
    taskId: string,
    opts: { pollMs?: number; timeoutMs?: number; onState?: (s: ResultState['state']) => void } = {},
  ): Promise<Revealed> {
    const end = Date.now() + (opts.timeoutMs ?? 600_000);
    for (;;) {
      const s = await this.result(taskId);
      opts.onState?.(s.state);
      if (s.state === 'revealed') return s.result;
      if (s.state === 'failed') throw new SignerRefusal(`task ${taskId} failed: ${s.error}`, 410, 'request_failed');
      if (s.state === 'due') {
        await this.pay([taskId]);
        continue;
      }
      if (Date.now() > end)
        throw new Error(`task ${taskId} is still running after ${Math.round((opts.timeoutMs ?? 600_000) / 1000)} s`);
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 250));
    }
  }

  /**
   * Runs many tasks the pay-then-reveal way: posts them, then in rounds pays every due leaf of
   * them with one authorization and reads the paid results (`concurrency` at a time). Returns the
   * revealed results and the tasks that failed or were refused.
   */
  async runMany(
    items: { signed: SignedRequest; input?: Uint8Array }[],
    opts: {
      pollMs?: number;
      timeoutMs?: number;
      concurrency?: number;
      onProgress?: (done: number, total: number) => void;
    } = {},
  ): Promise<{
    revealed: Revealed[];
    failed: { taskId: string; code: ErrorCode; error: string }[];
    authorizations: number;
  }> {
    const outcomes = await this.submit(items);
    const failed: { taskId: string; code: ErrorCode; error: string }[] = [];
    const pending = new Set<string>();
    for (const o of outcomes) {
      if (o.status === 'refused') failed.push({ taskId: o.taskId, code: o.code, error: o.error });
      else pending.add(o.taskId);
    }
    const revealed: Revealed[] = [];
    let authorizations = 0;
    let round = 0;
    const end = Date.now() + (opts.timeoutMs ?? 600_000);
    while (pending.size > 0) {
      const paid = await this.pay([...pending]);
      if (paid.length > 0) authorizations++;
      // Every few rounds without payments, look at the oldest unpaid tasks: a failed task is never due.
      const check = paid.length > 0 ? paid : round % 5 === 4 ? [...pending].slice(0, 50) : [];
      await mapLimit(check, opts.concurrency ?? 16, async (taskId) => {
        const s = await this.result(taskId);
        if (s.state === 'revealed') {
          revealed.push(s.result);
          pending.delete(taskId);
        } else if (s.state === 'failed') {
          failed.push({ taskId, code: 'request_failed', error: s.error });
          pending.delete(taskId);
        }
      });
      opts.onProgress?.(revealed.length + failed.length, items.length);
      round++;
      if (pending.size === 0) break;
      if (Date.now() > end)
        throw new Error(
          `${pending.size} of ${items.length} prepaid tasks still unfinished after ${Math.round((opts.timeoutMs ?? 600_000) / 1000)} s`,
        );
      if (paid.length === 0) await new Promise((r) => setTimeout(r, opts.pollMs ?? 250));
    }
    return { revealed, failed, authorizations };
  }
}

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}
