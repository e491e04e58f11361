/**
 * What the signer keeps of what others upload, and for how long (issue 12, attack 6).
 *
 * Input blobs. One is stored when a task already on chain names it (its fee pays for it), or from
 * a signed requester request before its task is submitted, as `market submit` does. The latter
 * counts against the uploader while no task names it ("unclaimed"): at most
 * `inputs.max_unclaimed_per_requester` blobs and `inputs.max_unclaimed_bytes_per_requester` bytes
 * each, and `inputs.max_unclaimed_bytes` for all requesters together, because keys cost nothing
 * to make. The sweep deletes an input `inputs.unclaimed_ttl_ms` after its upload when no task
 * names it, and `inputs.retention_ms` after the last task naming it ended.
 *
 * Model files: see routes/models.ts (the model's on-chain owner, or an admin).
 */
import { prepared } from '../db/index.js';
import { ApiError } from '../errors.js';
import type { Services } from '../services.js';

/**
 * SQL: true for a task that no longer needs its input. A chain task is done once final; a direct
 * inference once answered (`completed` is its last step: it is never settled on chain).
 */
const DONE = "(t.status in ('settled', 'timeout', 'failed') or (t.source = 'direct' and t.status = 'completed'))";

/**
 * SQL: the tasks that name blob `b`, with `where` (over task `t`) added: by its sha256 (the input
 * hash), or as an encrypted input's ciphertext sealed by the task's own requester (signer/privacy).
 */
const naming = (b: string, where = '') =>
  `(exists (select 1 from inference_tasks t where t.input_hash = ${b}.sha256 ${where}) or exists (select 1 from sealed_inputs si join inference_tasks t on t.input_hash = si.input_hash and t.user_address = si.holder where si.ciphertext_sha256 = ${b}.sha256 ${where}))`;

/** True when a task the chain submitted still needs this input (so anyone may upload its bytes). */
export function awaitedByChainTask(s: Services, sha256: string): boolean {
  return (
    prepared(
      s.store.sqlite,
      `select 1 from inference_tasks t where t.input_hash = ? and t.source = 'chain' and not ${DONE} limit 1`,
    ).get(sha256) !== undefined
  );
}

/** True when `holder` (a principal, or `token:<id>`) sealed input `inputHash` to at least one node (signer/privacy). */
export function hasSealedInput(store: Services['store'], holder: string, inputHash: string): boolean {
  return (
    prepared(store.sqlite, 'select 1 from sealed_inputs where input_hash = ? and holder = ? limit 1').get(
      inputHash,
      holder,
    ) !== undefined
  );
}

/** True when an encrypted task names this input hash (its clear bytes must never be stored). */
export function namedByEncryptedTask(s: Services, sha256: string): boolean {
  return (
    prepared(
      s.store.sqlite,
      "select 1 from inference_tasks where input_hash = ? and privacy = 'encrypted' limit 1",
    ).get(sha256) !== undefined
  );
}

/** True when the blob is stored. */
export function inputStored(s: Services, sha256: string): boolean {
  return prepared(s.store.sqlite, 'select 1 from input_blobs where sha256 = ?').get(sha256) !== undefined;
}

/**
 * The caps' SQL, run on every signed upload: they read the input_blobs_unclaimed_idx index only (reading `size`
 * from the table walks each blob's overflow pages: 1,000 uploads of 110 KB took 40 s of CPU).
 */
export const UNCLAIMED_SQL = {
  by: `select count(*) as count, coalesce(sum(size), 0) as bytes from input_blobs b where b.uploader = ? and not ${naming('b')}`,
  all: `select coalesce(sum(size), 0) as bytes from input_blobs b where b.uploader is not null and not ${naming('b')}`,
};

/** Count and bytes of the inputs `uploader` stored that no task names yet. */
export function unclaimedBy(s: Services, uploader: string): { count: number; bytes: number } {
  return prepared(s.store.sqlite, UNCLAIMED_SQL.by).get(uploader) as { count: number; bytes: number };
}

/** Bytes of all signed uploads that no task names yet. */
export function unclaimedBytes(s: Services): number {
  return (prepared(s.store.sqlite, UNCLAIMED_SQL.all).get() as { bytes: number }).bytes;
}

/**
 * Stores a blob whose sha256 was checked; `uploader` is the signed requester when no task names it
 * yet (null otherwise), `guardLevel` the data level the policy guard read it at. The caps are checked
 * and the row written in one SQL transaction, so concurrent uploads cannot pass a cap together.
 * Returns false when the blob was already there.
 */
export function storeInput(
  s: Services,
  blob: { sha256: string; bytes: Uint8Array; contentType: string; uploader: string | null; guardLevel?: string | null },
  now = Date.now(),
): boolean {
  const {
    max_unclaimed_per_requester: maxCount,
    max_unclaimed_bytes_per_requester: maxBytes,
    max_unclaimed_bytes: maxTotal,
  } = s.config.inputs;
  return s.store.sqlite.transaction(() => {
    if (inputStored(s, blob.sha256)) return false;
    if (blob.uploader !== null) {
      const mine = unclaimedBy(s, blob.uploader);
      if (mine.count + 1 > maxCount || mine.bytes + blob.bytes.length > maxBytes) {
        throw new ApiError(
          'upload_cap_exceeded',
          `${blob.uploader} already holds ${mine.count} inputs (${mine.bytes} bytes) that no task names yet; at most ${maxCount} inputs and ${maxBytes} bytes (inputs.max_unclaimed_per_requester, inputs.max_unclaimed_bytes_per_requester): submit the tasks that name them first (an input no task names is deleted after inputs.unclaimed_ttl_ms)`,
        );
      }
      const total = unclaimedBytes(s);
      if (total + blob.bytes.length > maxTotal) {
        throw new ApiError(
          'uploads_full',
          `the signer holds ${total} bytes of inputs that no task names yet, its limit (inputs.max_unclaimed_bytes); retry later, or submit the task first and upload its input after (an input a task on chain names needs no signature)`,
        );
      }
    }
    // The same input uploaded through another replica at the same moment: on PostgreSQL its row, committed
    // after this snapshot, makes this a serialization failure (40001) and the transaction runs again (then
    // finds the blob), never a unique violation.
    const { changes } = prepared(
      s.store.sqlite,
      'insert into input_blobs (sha256, data, size, content_type, created_at, uploader, guard_level) values (?, ?, ?, ?, ?, ?, ?) on conflict do nothing',
    ).run(
      blob.sha256,
      Buffer.from(blob.bytes.buffer, blob.bytes.byteOffset, blob.bytes.byteLength),
      blob.bytes.length,
      blob.contentType,
      now,
      blob.uploader,
      blob.guardLevel ?? null,
    );
    return changes > 0;
  })();
}

/** Most blobs one sweep step deletes per statement, so that no write transaction holds the database for long. */
const GC_BATCH = 500;

/**
 * The input sweep: deletes inputs no task named within `inputs.unclaimed_ttl_ms` of their upload,
 * and inputs whose tasks all ended more than `inputs.retention_ms` ago. Returns how many it deleted.
 */
export async function collectInputs(s: Services, now = Date.now()): Promise<{ unclaimed: number; retired: number }> {
  const { unclaimed_ttl_ms, retention_ms } = s.config.inputs;
  const unclaimed = prepared(
    s.store.sqlite,
    `delete from input_blobs where sha256 in (select b.sha256 from input_blobs b where b.created_at <= ? and not ${naming('b')} limit ${GC_BATCH})`,
  );
  // Named by tasks, none of which still needs it, and the last one ended (its final update) long enough ago.
  const retired = prepared(
    s.store.sqlite,
    `delete from input_blobs where sha256 in (select b.sha256 from input_blobs b where ${naming('b')}
       and not ${naming('b', `and (not ${DONE} or t.updated_at > @cutoff)`)} limit ${GC_BATCH})`,
  );
  const out = { unclaimed: 0, retired: 0 };
  for (const [key, stmt, cutoff] of [
    ['unclaimed', unclaimed, now - unclaimed_ttl_ms],
    ['retired', retired, now - retention_ms],
  ] as const) {
    for (;;) {
      const n = (key === 'retired' ? stmt.run({ cutoff }) : stmt.run(cutoff)).changes;
      out[key] += n;
      if (n < GC_BATCH) break;
      // Let requests in between batches.
      await new Promise((r) => setImmediate(r));
    }
  }
  // What pointed at deleted ciphertexts, and reservations nobody can upload under any more.
  prepared(
    s.store.sqlite,
    'delete from sealed_inputs where not exists (select 1 from input_blobs b where b.sha256 = sealed_inputs.ciphertext_sha256)',
  ).run();
  prepared(s.store.sqlite, 'delete from node_reservations where expires_at <= ?').run(now - unclaimed_ttl_ms);
  if (out.unclaimed + out.retired > 0) s.log.info(out, 'input sweep: deleted inputs no task needs any more');
  return out;
}
