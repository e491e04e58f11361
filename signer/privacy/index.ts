/**
 * Encrypted tasks on the signer (issue 14, protocol/privacy/sealed.ts): the signer offers node keys
 * (reservations), keeps the ciphertexts requesters sealed to each node, gives a node only the one
 * sealed to it, and says when none of those nodes is left so that the requester's client seals the
 * input again. It never holds a key that opens any of them: it stores and relays ciphertext only.
 */
import { randomUUID } from 'node:crypto';
import { sha256Hex, type ReservationRequest, type ReservationResponse } from '../../protocol/index.js';
import { prepared } from '../db/index.js';
import { ApiError } from '../errors.js';
import { liveModel } from '../inference/index.js';
import type { NodeRow } from '../nodes/index.js';
import type { Services } from '../services.js';
import { scoreNode, type TaskRow } from '../tasks/index.js';
import { storeInput } from '../uploads/index.js';

/** The holder of a token's reservations and ciphertexts (a requester's is its principal). */
export const tokenHolder = (tokenId: number) => `token:${tokenId}`;

/** Online, bonded nodes serving `artifactHash`, best first by the scheduler's score. */
function candidates(s: Services, artifactHash: string, exclude: Set<string>, now: number): NodeRow[] {
  const nodes = (
    prepared(s.store.sqlite, "select * from inference_nodes where status = 'online'").all() as NodeRow[]
  ).filter(
    (n) =>
      !exclude.has(n.node_id) &&
      (!s.bonds || s.bonds.eligible(n.public_key)) &&
      (JSON.parse(n.supported_models) as string[]).includes(artifactHash),
  );
  const { max_in_flight_per_node: cap, reputation_half_life_ms: halfLife } = s.config.scheduler;
  const score = new Map(nodes.map((n) => [n.node_id, scoreNode(n, 0, cap, now, halfLife)]));
  return nodes.sort((a, b) => score.get(b.node_id)! - score.get(a.node_id)!);
}

/**
 * Offers up to `req.nodes` nodes serving the model for `holder` to seal an input to, held for
 * `privacy.reservation_ttl_ms`. Fewer are offered when fewer are online (at least one, else 503).
 */
export async function reserve(
  s: Services,
  holder: string,
  req: ReservationRequest,
  now = Date.now(),
): Promise<ReservationResponse> {
  const head = await liveModel(s, req.model);
  const nodes = candidates(s, head.artifact_hash, new Set(req.exclude), now).slice(0, req.nodes);
  if (nodes.length === 0)
    throw new ApiError(
      'no_node_available',
      `no online node serves model "${req.model}"${req.exclude.length ? ` besides ${req.exclude.join(', ')}` : ''}, so there is no key to seal its input to; try again later`,
    );
  const reservation: ReservationResponse = {
    reservation_id: randomUUID(),
    model: req.model,
    artifact_hash: head.artifact_hash,
    nodes: nodes.map((n) => ({ node_id: n.node_id, public_key: n.public_key })),
    expires_at: now + s.config.privacy.reservation_ttl_ms,
  };
  prepared(
    s.store.sqlite,
    'insert into node_reservations (reservation_id, holder, model, artifact_hash, node_ids, created_at, expires_at) values (?, ?, ?, ?, ?, ?, ?)',
  ).run(
    reservation.reservation_id,
    holder,
    req.model,
    head.artifact_hash,
    JSON.stringify(reservation.nodes.map((n) => n.node_id)),
    now,
    reservation.expires_at,
  );
  return reservation;
}

/**
 * Stores `ciphertext` as the input `inputHash` sealed to `nodeId` by `holder`, under a reservation
 * of that holder (for `model`, when the route names one) that offered the node and has not expired.
 * The blob counts against the holder's upload caps like any signed upload. A second upload for the
 * same node replaces the first. Returns what the upload routes answer.
 */
export function storeSealedInput(
  s: Services,
  p: {
    holder: string;
    inputHash: string;
    nodeId: string;
    reservationId: string;
    ciphertext: Uint8Array;
    model?: string;
  },
  now = Date.now(),
): { input_hash: string; node_id: string; ciphertext_sha256: string; size: number } {
  if (p.ciphertext.length === 0)
    throw new ApiError('bad_request', 'body is empty: send the ECIES cipher object sealed to the node (JSON)');
  const r = prepared(
    s.store.sqlite,
    'select node_ids, expires_at, model from node_reservations where reservation_id = ? and holder = ?',
  ).get(p.reservationId, p.holder) as { node_ids: string; expires_at: number; model: string } | undefined;
  if (!r || r.expires_at < now || (p.model !== undefined && p.model !== r.model))
    throw new ApiError(
      'reservation_not_found',
      `reservation ${p.reservationId} ${!r ? 'is not one of yours' : r.expires_at < now ? 'expired' : `is for model "${r.model}", not "${p.model}"`}: ask for another (POST /api/v1/reservations) and seal to the nodes it offers`,
    );
  const offered = JSON.parse(r.node_ids) as string[];
  if (!offered.includes(p.nodeId))
    throw new ApiError(
      'node_not_reserved',
      `node ${p.nodeId} is not offered by reservation ${p.reservationId} (${offered.join(', ')}): seal the input to those nodes' keys`,
    );
  const sha256 = sha256Hex(p.ciphertext);
  s.store.sqlite.transaction(() => {
    storeInput(s, { sha256, bytes: p.ciphertext, contentType: 'application/json', uploader: p.holder }, now);
    prepared(
      s.store.sqlite,
      'insert or replace into sealed_inputs (input_hash, node_id, holder, ciphertext_sha256, reservation_id, created_at) values (?, ?, ?, ?, ?, ?)',
    ).run(p.inputHash, p.nodeId, p.holder, sha256, p.reservationId, now);
  })();
  return { input_hash: p.inputHash, node_id: p.nodeId, ciphertext_sha256: sha256, size: p.ciphertext.length };
}

/** The holder of a task's ciphertexts: its requester on chain, or the token of a direct call. */
export function holderOf(task: Pick<TaskRow, 'user_address'>): string {
  return task.user_address;
}

/** The ciphertext sealed to `nodeId` for this task by its requester, or null. */
export function sealedInputFor(s: Services, task: TaskRow, nodeId: string): { data: Buffer; sha256: string } | null {
  return (
    (prepared(
      s.store.sqlite,
      'select b.data, b.sha256 from sealed_inputs si join input_blobs b on b.sha256 = si.ciphertext_sha256 where si.input_hash = ? and si.node_id = ? and si.holder = ?',
    ).get(task.input_hash, nodeId, holderOf(task)) as { data: Buffer; sha256: string } | undefined) ?? null
  );
}

/** The nodes a task's input is sealed to, and whether one of them can still run it (online, bonded, not yet run it). */
export function sealedNodes(s: Services, task: TaskRow): { nodes: string[]; needsReseal: boolean } {
  const rows = prepared(
    s.store.sqlite,
    'select si.node_id, n.status, n.public_key from sealed_inputs si left join inference_nodes n on n.node_id = si.node_id where si.input_hash = ? and si.holder = ?',
  ).all(task.input_hash, holderOf(task)) as { node_id: string; status: string | null; public_key: string | null }[];
  const live = rows.some(
    (r) =>
      (r.status === 'online' || r.status === 'busy') &&
      !task.votes?.includes(`"node_id":${JSON.stringify(r.node_id)}`) &&
      (!s.bonds || (r.public_key !== null && s.bonds.eligible(r.public_key))),
  );
  return { nodes: rows.map((r) => r.node_id), needsReseal: task.status === 'pending' && !live };
}
