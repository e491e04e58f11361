/**
 * POST /api/v1/nodes/register. The request must be signed by the key being registered (so
 * nobody can register a key they do not hold) and a node id stays bound to its first key. With
 * a chain, the key must have an active bond in the escrow (`get-node`), read now: the contract
 * pays only bonded keys, and the stake is what a node loses when caught cheating.
 */
import { Hono } from 'hono';
import { registerNodeRequest } from '../../../protocol/index.js';
import { checkSignature, readSignedRequest } from '../../auth/index.js';
import { ApiError } from '../../errors.js';
import { bondRefusal, registerNode, RegistrationError, type NodeBond } from '../../nodes/index.js';
import type { Services } from '../../services.js';
import type { Env } from '../env.js';
import { defaultLimit } from '../limits.js';
import { corePaths } from '../openapi-core.js';
import { doc } from '../openapi-doc.js';
import { describeIssues, ok } from '../respond.js';
import { nodeView } from './nodes.js';

/** Registration route. */
export const register = new Hono<Env>().post(
  '/api/v1/nodes/register',
  defaultLimit,
  doc('nodes', corePaths['/api/v1/nodes/register'].post),
  async (c) => {
    const s = c.var.services;
    // The signature covers the raw body, so the body is read once here and parsed from that text.
    const signed = await readSignedRequest(c);
    let json: unknown;
    try {
      json = JSON.parse(signed.body);
    } catch {
      throw new ApiError(
        'bad_request',
        'body must be a JSON object {node_id, endpoint, public_key, supported_models, performance_score, capabilities}',
      );
    }
    const parsed = registerNodeRequest.safeParse(json);
    if (!parsed.success) throw new ApiError('bad_request', describeIssues(parsed.error, 'json'));
    const body = parsed.data;
    if (signed.nodeId !== body.node_id)
      throw new ApiError(
        'bad_request',
        `header x-node-id "${signed.nodeId}" must equal body node_id "${body.node_id}"`,
      );
    await checkSignature(c, signed, body.public_key);
    const bond = await requireBond(s, body.public_key);
    try {
      const { node, created } = registerNode(s.store, body, s.config.network.max_nodes);
      s.log.info({ node_id: node.node_id, created, stake: bond ? String(bond.stake) : null }, 'node registered');
      s.pending.notify();
      const bondView = bond ? { stake: String(bond.stake), bond_status: bond.status } : {};
      return ok(
        c,
        { ...nodeView(node), ...bondView, heartbeat_interval_ms: s.config.network.heartbeat_interval_ms },
        created ? 201 : 200,
      );
    } catch (e) {
      if (e instanceof RegistrationError) throw new ApiError(e.kind === 'full' ? 'unavailable' : 'conflict', e.message);
      throw e;
    }
  },
);

/** The key's active bond, read from the chain now; refuses a key without one. Null without a chain (nothing is paid on chain). */
async function requireBond(s: Services, publicKey: string): Promise<NodeBond | null> {
  if (!s.bonds) return null;
  let bond: NodeBond | null;
  try {
    bond = await s.bonds.refresh(publicKey);
  } catch (e) {
    s.log.warn({ err: (e as Error).message }, 'reading a node bond failed');
    throw new ApiError(
      'unavailable',
      `the signer cannot read node bonds from the chain right now (${(e as Error).message}); register again in a moment`,
    );
  }
  if (bond?.status === 'active') return bond;
  const minStake = await s.bonds.refreshMinStake().catch(() => s.bonds!.minStake);
  throw new ApiError('node_not_bonded', bondRefusal(publicKey, bond, minStake));
}
