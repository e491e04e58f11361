/** The Hono environment of the signer's app: services and the authenticated node travel in the context. */
import type { NodeRow } from '../nodes/index.js';
import type { Services } from '../services.js';

/** Context variables set by the app's middleware. */
export interface Env {
  Variables: {
    services: Services;
    /** Set by nodeAuth on node routes. */
    node: NodeRow;
    requestId: string;
    /** Set by the console's session guard on admin pages and /api/v1/admin routes. */
    admin: { id: number; username: string; csrfToken: string };
    /** Set by the API-token guard on direct-inference routes. */
    token: { id: number; name: string };
  };
}
