/** A devnet signature-check thread (see ./verifier.ts): the origin signature of one raw transaction. */
import { serve } from '../protocol/index.js';
import { verifyOrigin } from './origin.js';

/** The calls a devnet signature-check thread answers. */
export const handlers = {
  verify: (raw: Uint8Array) => verifyOrigin(raw),
};

serve(handlers);
