/**
 * Admission of signed prepaid requests (POST /api/v1/requests). Each item is judged on its own, so
 * one bad item does not sink the others: its form, the key that signed it (its principal is the
 * account), the market, the expiry, the signature (over the SIP-018 bytes; a call's signatures
 * all at once on the verifier's threads, signer/auth/verify.ts encodedMany), the input, the
 * model, the fee (quote or current price x security <= max_fee), the input under the policy guard
 * (guardInput) and the account's funds. The accepted ones become `source = 'prepaid'` tasks with a
 * `running` receipt and a reservation of their max fee, all in one SQL transaction per call.
 * The task id is prepaidTaskId(request hash): a request posted again is the same task ("duplicate").
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { compressedPublicKey, rsvSignature } from '../../protocol/index.js';
import { prepaidTaskId, principalOfKey, taskRequestJson, type TaskRequestJson } from '../../protocol/index.js';
import { encodeTaskRequest } from './encode.js';
import { atomic, isRetryable, prepared } from '../db/index.js';
import { ApiError, type ErrorCode } from '../errors.js';
import { clearTextRoute, guardHashedInput, modelLevel } from '../guard/index.js';
import { runsFor } from '../tasks/index.js';
import { hasSealedInput } from '../uploads/index.js';
import type { LiveOutput } from './chain-view.js';
import { availableOf, accountRow, type AccountRow } from './ledger.js';
import type { PrepaidContext } from './receipts.js';
import type { PrepaidAccounts } from './index.js';

const uintString = z.string().regex(/^(0|[1-9][0-9]{0,37})$/, 'must be a non-negative integer as a decimal string');

/** One item of POST /api/v1/requests. */
export const requestItem = z
  .object({
    request: taskRequestJson,
    signature: rsvSignature,
    public_key: compressedPublicKey,
    /** The input's bytes, base64; or omit it when the input is already stored (PUT /api/v1/inputs/{sha256}). */
    input_base64: z.string().max(50_000_000).optional(),
    /** A quote from GET /api/v1/quote for this account and model: the request is charged its price x security. */
    quote: z.object({ price: uintString, expiry: uintString, signature: rsvSignature }).strict().optional(),
    /**
     * `encrypted`: input_hash is an envelope the account sealed to reserved nodes (signer/privacy), sent with no
     * clear bytes. Not part of the signed request: a signer that changed it could neither read the input nor run it.
     */
    privacy: z.enum(['standard', 'encrypted']).default('standard'),
  })
  .strict();
export type RequestItem = z.infer<typeof requestItem>;

/** The outcome of one item, in the order posted. */
export type ItemOutcome =
  | { task_id: string; status: 'accepted' | 'duplicate' }
  | { index: number; success: false; code: ErrorCode; error: string };

/** An item that passed the checks that need no database. */
interface Candidate {
  index: number;
  item: RequestItem;
  request: TaskRequestJson;
  taskId: string;
  maxFee: bigint;
  input: Buffer | null;
}

/** A candidate with its SIP-018 bytes and their sha256 (the request hash: task id and signed digest). */
type Checked = Candidate & { encoded: Buffer; digest: Buffer };

/** A signed, priced and guarded candidate; `trustedOnly`: an L2 input, for trusted nodes only. */
type Priced = Candidate & { output: LiveOutput; fee: bigint; price: bigint; trustedOnly: boolean };

class Refusal extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const principals = new Map<string, string>();
function principalOf(publicKey: string, chainId: number): string {
  let p = principals.get(publicKey);
  if (p === undefined) {
    p = principalOfKey(publicKey, chainId);
    if (principals.size > 100_000) principals.clear();
    principals.set(publicKey, p);
  }
  return p;
}

/** Form, key, market, expiry, input bytes; the request's SIP-018 bytes and task id. */
function precheck(pa: PrepaidAccounts, index: number, raw: unknown, nowSeconds: number): Checked {
  const parsed = requestItem.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Refusal('request_invalid', `${issue.path.map(String).join('.') || 'item'}: ${issue.message}`);
  }
  const item = parsed.data;
  const r = item.request;
  if (principalOf(item.public_key, pa.chainId) !== r.account)
    throw new Refusal(
      'account_key_mismatch',
      `public_key ${item.public_key} is the key of ${principalOf(item.public_key, pa.chainId)}, not of the request's account ${r.account}`,
    );
  if (r.market !== pa.market)
    throw new Refusal('wrong_market', `request.market is ${r.market}; this signer's accounts contract is ${pa.market}`);
  if (BigInt(r.expiry) <= BigInt(nowSeconds))
    throw new Refusal(
      'request_expired',
      `request.expiry ${r.expiry} is not after now (${nowSeconds} unix seconds); sign the request with a later expiry`,
    );
  let input: Buffer | null = null;
  if (item.privacy === 'encrypted' && item.input_base64 !== undefined)
    throw new Refusal(
      'request_invalid',
      'an encrypted request carries no clear input: omit input_base64, and PUT the envelope sealed to each reserved node (POST /api/v1/reservations) first',
    );
  if (item.input_base64 !== undefined) {
    input = Buffer.from(item.input_base64, 'base64');
    if (input.length > pa.cfg.max_inline_input_bytes)
      throw new Refusal(
        'request_invalid',
        `input_base64 is ${input.length} bytes; at most ${pa.cfg.max_inline_input_bytes} inline (accounts.max_inline_input_bytes): PUT /api/v1/inputs/{sha256} first and omit input_base64`,
      );
    const hash = createHash('sha256').update(input).digest('hex');
    if (hash !== r.input_hash)
      throw new Refusal('input_mismatch', `input_base64 hashes to ${hash}, not to request.input_hash ${r.input_hash}`);
  }
  const encoded = encodeTaskRequest(r, pa.chainId);
  const digest = createHash('sha256').update(encoded).digest();
  return {
    index,
    item,
    request: r,
    taskId: prepaidTaskId(digest.toString('hex')),
    maxFee: BigInt(r.max_fee),
    input,
    encoded,
    digest,
  };
}

/**
 * The policy guard on a request's clear-text input (inline, inline in an earlier item of the call, or
 * stored by an upload), at its model's data level: a request comes with no API token, so the model's
 * level (or the default) is the one. The request signs input_hash, so a finding the level would mask
 * is refused (guard/hashed.ts says why). Returns whether the task is trusted-only (L2); an input not
 * found is left to record() to refuse as input_missing.
 */
function guardInput(
  pa: PrepaidAccounts,
  c: Candidate,
  output: LiveOutput,
  inline: Map<string, Buffer>,
  passed: Set<string>,
  now: number,
): boolean {
  const hash = c.request.input_hash;
  const level = modelLevel(pa.store, pa.guard, output.model);
  const route = () =>
    clearTextRoute(pa.store, pa.guard, level, { name: output.model, artifactHash: output.artifactHash });
  // Many requests of a call often name one input: read and guard it once per call and level, not per
  // request (a 110 KB input cost about a millisecond a request). Only a clean input is kept: a finding is
  // audited for each request.
  const key = `${hash}:${level}`;
  if (passed.has(key)) return route();
  const bytes =
    inline.get(hash) ??
    (
      prepared(pa.store.sqlite, 'select data from input_blobs where sha256 = ?').get(hash) as
        | { data: Buffer }
        | undefined
    )?.data;
  if (!bytes) return false;
  const who = { tokenId: null, model: output.model, requestId: c.taskId };
  if (guardHashedInput(pa.store, pa.guard, who, bytes, level, now) === 0) passed.add(key);
  return route();
}

/** Judges and records a batch; returns one outcome per item, in order. */
export async function admit(pa: PrepaidAccounts, items: unknown[], now = Date.now()): Promise<ItemOutcome[]> {
  const nowSeconds = Math.floor(now / 1000);
  const out: ItemOutcome[] = new Array(items.length);
  const refuse = (index: number, e: unknown) => {
    if (e instanceof Refusal || e instanceof ApiError)
      out[index] = { index, success: false, code: e.code, error: e.message };
    else throw e;
  };
  const pre: Checked[] = [];
  items.forEach((raw, i) => {
    try {
      pre.push(precheck(pa, i, raw, nowSeconds));
    } catch (e) {
      refuse(i, e);
    }
  });
  // Signatures (on the verifier's threads) and the chain reads (cached) of the whole batch at once.
  const [sigs, outputs] = await Promise.all([
    pa.verifyMany(
      pre.map((c) => ({
        encoded: c.encoded,
        digest: c.digest,
        signature: c.item.signature,
        publicKey: c.item.public_key,
      })),
    ),
    Promise.all(
      [...new Set(pre.map((c) => c.request.model_output))].map(
        async (id) => [id, await pa.view.output(BigInt(id)).catch((e: unknown) => e as Error)] as const,
      ),
    ),
  ]);
  const outputOf = new Map(outputs);
  const terms = pre.length ? await pa.view.terms() : null;
  const priced: Priced[] = [];
  const prices = new Map<string, bigint>();
  const inline = new Map(pre.flatMap((c) => (c.input ? [[c.request.input_hash, c.input] as const] : [])));
  const guarded = new Set<string>();
  pre.forEach((c, k) => {
    try {
      if (!sigs[k])
        throw new Refusal(
          'request_signature_invalid',
          `signature does not verify with public_key ${c.item.public_key} over the request (SIP-018, domain inference-accounts v1, chain id ${pa.chainId}), or it is not canonical (low s, recovery byte 00 or 01)`,
        );
      const output = outputOf.get(c.request.model_output);
      if (output instanceof Error) throw output;
      if (!output)
        throw new Refusal(
          'model_not_live',
          `model output ${c.request.model_output} is not a live model version (unknown, upgraded or retired); GET /api/v1/models for the live ones`,
        );
      let price: bigint;
      if (c.item.quote) {
        const q = {
          account: c.request.account,
          market: pa.market,
          modelOutput: BigInt(c.request.model_output),
          price: BigInt(c.item.quote.price),
          expiry: BigInt(c.item.quote.expiry),
        };
        const problem = pa.pricing.quoteProblem(q, c.item.quote.signature, nowSeconds);
        if (problem) throw new Refusal('quote_invalid', problem);
        price = q.price < output.price ? output.price : q.price;
      } else {
        const key = `${c.request.account}:${c.request.model_output}`;
        price = prices.get(key) ?? pa.pricing.price(c.request.account, output.price, now);
        prices.set(key, price);
      }
      const fee = price * BigInt(c.request.security);
      if (fee > c.maxFee)
        throw new Refusal(
          'max_fee_too_low',
          `the fee is ${fee} µSTX (price ${price} x security ${c.request.security}), above max_fee ${c.maxFee}; sign the request with max_fee >= ${fee}, or with a quote (GET /api/v1/quote)`,
        );
      // Guarded once it is known to be signed and priced: nothing is stored, reserved or queued before. A sealed
      // input is not readable here: its node opens it.
      const trustedOnly = c.item.privacy === 'encrypted' ? false : guardInput(pa, c, output, inline, guarded, now);
      priced.push({ ...c, output, fee, price, trustedOnly });
    } catch (e) {
      refuse(c.index, e);
    }
  });
  // Accounts whose cached balance may not cover this batch are read from the chain first.
  const need = new Map<string, { key: string; total: bigint }>();
  for (const c of priced) {
    const n = need.get(c.request.account) ?? { key: c.item.public_key, total: 0n };
    n.total += c.maxFee;
    need.set(c.request.account, n);
  }
  await Promise.all(
    [...need].map(([account, n]) => pa.freshAccount(account, n.key, n.total, now).catch(() => undefined)),
  );
  const sampleBps = terms?.sampleBps ?? 0;
  const store = pa.store;
  const pg = store.dialect === 'postgres';
  atomic(store.sqlite, () => {
    // Built in the body: PostgreSQL runs it again after a serialization failure, from what it reads then.
    const batch: BatchState = { accounts: new Map(), inputs: new Set() };
    for (const c of priced) {
      try {
        const one = () => record(pa, c, terms!, sampleBps, now, batch);
        // On PostgreSQL each item in its own savepoint: a failed statement would otherwise abort the
        // transaction for every later item (25P02). SQLite keeps its transaction usable after one, and
        // record refuses before it writes: a savepoint there cost 20-30 % more CPU per request.
        out[c.index] = pg ? atomic(store.sqlite, one) : one();
      } catch (e) {
        // A serialization failure or deadlock must abort the whole batch, so that atomic runs it again.
        if (isRetryable(e)) throw e;
        refuse(c.index, e);
      }
    }
    // One write per account of what its accepted requests reserved.
    for (const [account, a] of batch.accounts) {
      if (a.row && a.reserved !== BigInt(a.row.reserved))
        prepared(store.sqlite, 'update prepaid_accounts set reserved = ?, updated_at = ? where account = ?').run(
          a.reserved.toString(),
          now,
          account,
        );
    }
  });
  if (priced.some((c) => 'status' in out[c.index]! && (out[c.index] as { status: string }).status === 'accepted'))
    pa.notify();
  return out;
}

/**
 * What one call's transaction has read and reserved so far: each account's row is read once and
 * its reservation kept here (written once at the end), each input hash looked up once. Nothing
 * else writes these rows while the transaction runs, so this is what per-item reads would see.
 */
interface BatchState {
  accounts: Map<string, { row: AccountRow | undefined; reserved: bigint; headroom: bigint }>;
  inputs: Set<string>;
}

/** Writes one accepted request (or finds it a duplicate); inside the batch's transaction. */
function record(
  pa: PrepaidAccounts,
  c: Priced,
  terms: NonNullable<Awaited<ReturnType<PrepaidAccounts['view']['terms']>>>,
  sampleBps: number,
  now: number,
  batch: BatchState,
): ItemOutcome {
  const sql = pa.store.sqlite;
  const r = c.request;
  const same = prepared(sql, 'select task_id from prepaid_receipts where account = ? and nonce = ?').get(
    r.account,
    r.nonce,
  ) as { task_id: string } | undefined;
  if (same) {
    if (same.task_id === c.taskId) return { task_id: c.taskId, status: 'duplicate' };
    throw new Refusal(
      'nonce_used',
      `account ${r.account} already used nonce ${r.nonce} for another request (task ${same.task_id}); every request needs its own nonce`,
    );
  }
  let acct = batch.accounts.get(r.account);
  if (!acct) {
    const read: AccountRow | undefined = accountRow(pa.store, r.account);
    // headroom = balance - unsettled (availableOf before any reservation); available = headroom - reserved.
    acct = {
      row: read,
      reserved: read ? BigInt(read.reserved) : 0n,
      headroom: read ? availableOf(read) + BigInt(read.reserved) : 0n,
    };
    batch.accounts.set(r.account, acct);
  }
  const row = acct.row;
  if (!row || row.read_at === null)
    throw new ApiError('unavailable', `cannot read account ${r.account} from ${pa.market} on chain right now; retry`);
  if (row.withdraw_at !== null)
    throw new Refusal(
      'account_withdrawing',
      `account ${r.account} asked to withdraw (executable at block ${row.withdraw_at}): this signer takes no more requests from it; deposit again after the withdrawal`,
    );
  const available = acct.headroom - acct.reserved;
  if (available < c.maxFee) {
    const never = BigInt(row.balance) === 0n && BigInt(row.spent) === 0n;
    throw new Refusal(
      'insufficient_deposit',
      never
        ? `account ${r.account} has no deposit in ${pa.market}; deposit STX (market account deposit) first`
        : `account ${r.account} can cover ${available > 0n ? available : 0n} µSTX more (balance ${row.balance} - unsettled ${BigInt(row.owed) - BigInt(row.spent)} - reserved ${acct.reserved}), below max_fee ${c.maxFee}; deposit more, or pay for due results and wait for them to settle`,
    );
  }
  if (c.item.privacy === 'encrypted') {
    if (!hasSealedInput(pa.store, r.account, r.input_hash))
      throw new Refusal(
        'input_missing',
        `${r.account} sealed no input ${r.input_hash} to any node; reserve nodes (POST /api/v1/reservations) and PUT the envelope sealed to each first`,
      );
  } else if (batch.inputs.has(r.input_hash)) {
    // Stored (or found) for an earlier item of this call.
  } else if (c.input) {
    prepared(
      sql,
      "insert into input_blobs (sha256, data, size, content_type, created_at, uploader) values (?, ?, ?, 'application/json', ?, null) on conflict do nothing",
    ).run(r.input_hash, c.input, c.input.length, now);
  } else if (!prepared(sql, 'select 1 from input_blobs where sha256 = ?').get(r.input_hash)) {
    throw new Refusal(
      'input_missing',
      `no input with sha256 ${r.input_hash} is stored; send its bytes as input_base64, or PUT /api/v1/inputs/${r.input_hash} first`,
    );
  }
  const ctx: PrepaidContext = {
    expiry: r.expiry,
    owner: c.output.owner,
    owner_bps: terms.ownerBps.toString(),
    treasury_bps: terms.treasuryBps.toString(),
    treasury: terms.treasury,
  };
  const security = Number(r.security);
  // The same request (or nonce) arriving through another replica at the same moment: on PostgreSQL its rows,
  // committed after this snapshot, make these inserts a serialization failure (40001), so the batch runs again
  // and answers duplicate (or nonce_used) as a second request would, not a unique violation (a 500). A row
  // this snapshot sees was found above.
  prepared(
    sql,
    `insert into inference_tasks (task_id, chain_task_id, user_address, context, fee, infer_fee, max_infer_time, model_type, status, created_at, updated_at, model_output, artifact_hash, input_hash,
      deadline, privacy, priority, security, precision, sample_bps, runs_needed, source, trusted_only) values (?, null, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, null, ?, 0, ?, ?, ?, ?, 'prepaid', ?)
      on conflict do nothing`,
  ).run(
    c.taskId,
    r.account,
    JSON.stringify(ctx),
    c.fee.toString(),
    c.price.toString(),
    pa.maxInferTimeMs,
    c.output.model,
    now,
    now,
    r.model_output,
    c.output.artifactHash.toLowerCase(),
    r.input_hash,
    c.item.privacy,
    security,
    c.output.precision,
    sampleBps,
    runsFor(security, sampleBps),
    c.trustedOnly ? 1 : 0,
  );
  prepared(
    sql,
    'insert into task_events (task_id, from_status, to_status, reason, node_id, txid, at) values (?, null, ?, ?, null, null, ?)',
  ).run(
    c.taskId,
    'pending',
    `prepaid request of ${r.account} (nonce ${r.nonce}, fee ${c.fee} of max ${c.maxFee})`,
    now,
  );
  prepared(
    sql,
    "insert into prepaid_receipts (task_id, account, nonce, request, request_signature, max_fee, status, created_at) values (?, ?, ?, ?, ?, ?, 'running', ?) on conflict do nothing",
  ).run(c.taskId, r.account, r.nonce, JSON.stringify(r), c.item.signature, r.max_fee, now);
  // Kept only once every write of this item is done: a refused item's savepoint rolls them back.
  if (c.item.privacy !== 'encrypted') batch.inputs.add(r.input_hash);
  acct.reserved += c.maxFee;
  return { task_id: c.taskId, status: 'accepted' };
}
