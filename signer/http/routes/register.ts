/**
 * POST /api/v1/nodes/register. The request must be signed by the key being registered (so
 * nobody can register a key they do not hold) and a node id stays bound to its first key.
 */
import { Hono } from 'hono';
import { registerNodeRequest } from '../../../protocol/index.js';
import { checkSignature, readSignedRequest } from '../../auth/index.js';
import { ApiError } from '../../errors.js';
import { registerNode, RegistrationError } from '../../nodes/index.js';
import type { Env } from '../env.js';
import { describeIssues, ok } from '../respond.js';
import { nodeView } from './nodes.js';

/** Registration route. */
export const register = new Hono<Env>().post('/api/v1/nodes/register', async (c) => {
  const s = c.var.services;
  // The signature covers the raw body, so the body is read once here and parsed from that text.
  const signed = await readSignedRequest(c);
  let json: unknown;
  try {
    json = JSON.parse(signed.body);
  } catch {
    throw new ApiError('bad_request', 'body must be a JSON object {node_id, endpoint, public_key, supported_models, performance_score, capabilities}');
  }
  const parsed = registerNodeRequest.safeParse(json);
  if (!parsed.success) throw new ApiError('bad_request', describeIssues(parsed.error, 'json'));
  const body = parsed.data;
  if (signed.nodeId !== body.node_id) throw new ApiError('bad_request', `header x-node-id "${signed.nodeId}" must equal body node_id "${body.node_id}"`);
  await checkSignature(c, signed, body.public_key);
  try {
    const { node, created } = registerNode(s.store, body, s.config.network.max_nodes);
    s.log.info({ node_id: node.node_id, created }, 'node registered');
    s.pending.notify();
    return ok(c, { ...nodeView(node), heartbeat_interval_ms: s.config.network.heartbeat_interval_ms }, created ? 201 : 200);
  } catch (e) {
    if (e instanceof RegistrationError) throw new ApiError(e.kind === 'full' ? 'unavailable' : 'conflict', e.message);
    throw e;
  }
});
