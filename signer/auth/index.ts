/**
 * Node request authentication. Every node call carries NODE_AUTH_HEADERS: the node id, a
 * timestamp (ms) and a SIP-018 signature over {method, path with query, sha256 of the body,
 * timestamp} (protocol/sip018 signNodeRequest). The signer checks it against the node's
 * registered key (or, for registration, the key being registered), the timestamp window, that
 * it was signed after this process started, that the signature is canonical (low s, recovery byte
 * 00 or 01) and that its (r, s) was not seen before.
 */
import type { Context, MiddlewareHandler } from 'hono';
import {
  NODE_AUTH_HEADERS,
  canonicalSignatureProblem,
  nodeId as nodeIdSchema,
  sha256Hex,
} from '../../protocol/index.js';
import { ApiError } from '../errors.js';
import { getNode, type NodeRow } from '../nodes/index.js';
import type { Env } from '../http/index.js';

export { DbReplayCache, ReplayCache, replayCacheFor, type Replays } from './replay.js';
export { SignatureVerifier, verifyNodeRequestFast, verifyTaskResultFast, verifyEncodedFast } from './verify.js';
export { authenticateRequester, hasRequesterHeaders } from './requester.js';

/** The signed parts of a request, read from its headers and body. */
export interface SignedRequest {
  nodeId: string;
  timestamp: number;
  signature: string;
  method: string;
  path: string;
  body: string;
}

/** Reads the auth headers and the raw body; throws 401 naming the missing or malformed header. */
export async function readSignedRequest(c: Context<Env>): Promise<SignedRequest> {
  const h = NODE_AUTH_HEADERS;
  const nodeId = c.req.header(h.node);
  const ts = c.req.header(h.timestamp);
  const signature = c.req.header(h.signature);
  const hint =
    'sign every node request with protocol/sip018 signNodeRequest and send the node id, timestamp and signature headers';
  if (!nodeId) throw new ApiError('unauthorized', `missing header ${h.node}: ${hint}`);
  if (!nodeIdSchema.safeParse(nodeId).success)
    throw new ApiError(
      'bad_request',
      `header ${h.node} must be a node id of letters, digits, ".", "_" or "-" (1..64 characters)`,
    );
  if (!ts || !/^\d{1,16}$/.test(ts))
    throw new ApiError('unauthorized', `header ${h.timestamp} must be the request time in Unix milliseconds: ${hint}`);
  if (!signature || !/^[0-9a-f]{130}$/.test(signature))
    throw new ApiError(
      'unauthorized',
      `header ${h.signature} must be a 65-byte RSV signature as 130 lowercase hex characters: ${hint}`,
    );
  const url = new URL(c.req.url);
  const body = c.req.method === 'GET' || c.req.method === 'HEAD' ? '' : await c.req.text();
  return { nodeId, timestamp: Number(ts), signature, method: c.req.method, path: url.pathname + url.search, body };
}

/** Checks the window, the signature against `publicKey`, then claims it against replays. */
export async function checkSignature(c: Context<Env>, req: SignedRequest, publicKey: string): Promise<void> {
  // c.get, not c.var: hono's c.var copies every variable into a new object on each read.
  const s = c.get('services');
  const now = Date.now();
  const window = s.config.auth.timestamp_window_ms;
  if (Math.abs(now - req.timestamp) > window) {
    throw new ApiError(
      'unauthorized',
      `${NODE_AUTH_HEADERS.timestamp} is ${now - req.timestamp} ms away from the signer's clock (allowed ±${window} ms); check the node's clock and sign each request when sending it`,
    );
  }
  // The replay cache lives in memory; a request signed before this process started could only be
  // a replay of one it never saw (or come from a clock running behind, which resolves itself).
  if (req.timestamp < s.startedAt) {
    throw new ApiError(
      'unauthorized',
      `${NODE_AUTH_HEADERS.timestamp} is ${s.startedAt - req.timestamp} ms before this signer started; sign every request afresh when sending it (and check the node's clock)`,
    );
  }
  // Refused by form before any check: a malleated copy of a signature (high s, recovery byte 2 or 3) must never
  // count as a request of its own, and saying so helps the operator of a node that signs oddly.
  const problem = canonicalSignatureProblem(req.signature);
  if (problem) {
    s.metrics.authFailures.inc({ reason: 'noncanonical' });
    throw new ApiError(
      'signature_not_canonical',
      `signature is not canonical: ${problem}; send ${NODE_AUTH_HEADERS.signature} as protocol/sip018 signNodeRequest makes it (low s, recovery byte 00 or 01)`,
    );
  }
  const message = { method: req.method, path: req.path, bodyHash: sha256Hex(req.body), timestamp: req.timestamp };
  if (!(await s.verifier.nodeRequest(message, s.chainId, req.signature, publicKey))) {
    s.metrics.authFailures.inc({ reason: 'signature' });
    throw new ApiError(
      'unauthorized',
      `${NODE_AUTH_HEADERS.signature} does not verify for node ${req.nodeId}: sign {method, path with query, sha256 of the exact body, timestamp} with the node's registered key and chain id ${s.chainId}`,
    );
  }
  if (!s.replay.claim(req.signature, req.timestamp, now)) {
    s.metrics.authFailures.inc({ reason: 'replay' });
    throw new ApiError(
      'signature_replayed',
      'this signed request was already used; sign every request afresh with a new timestamp',
    );
  }
}

/** Middleware for node routes: authenticates the caller and puts its row in `c.var.node`. */
export function nodeAuth(): MiddlewareHandler<Env> {
  return async (c, next) => {
    const req = await readSignedRequest(c);
    const node: NodeRow | undefined = getNode(c.get('services').store, req.nodeId);
    if (!node)
      throw new ApiError(
        'node_not_registered',
        `node "${req.nodeId}" is not registered; POST /api/v1/nodes/register first`,
      );
    await checkSignature(c, req, node.public_key);
    c.set('node', node);
    await next();
  };
}
