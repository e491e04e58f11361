/**
 * The signer's routes, one per file, in the order the app mounts them. `docs` is apart: it describes
 * the app it is mounted in, so the app makes it last.
 */
import { accounts } from './accounts.js';
import { adminAuth } from './admin-auth.js';
import { adminModels } from './admin-models.js';
import { adminTokens } from './admin-tokens.js';
import { batchInfer } from './batch-infer.js';
import { complete } from './complete.js';
import { consoleAuth } from './console-auth.js';
import { consoleModelPages } from './console-models.js';
import { consolePrivacy } from './console-privacy.js';
import { consoleTokens } from './console-tokens.js';
import { dashboard } from './dashboard.js';
import { docs } from './docs.js';
import { health } from './health.js';
import { heartbeat } from './heartbeat.js';
import { infer } from './infer.js';
import { inputs } from './inputs.js';
import { metrics } from './metrics.js';
import { models } from './models.js';
import { nodes } from './nodes.js';
import { oip } from './oip.js';
import { payees } from './payees.js';
import { periods } from './periods.js';
import { pull } from './pull.js';
import { quote } from './quote.js';
import { register } from './register.js';
import { sealed } from './sealed.js';
import { sealedInfer } from './sealed-infer.js';
import { requests } from './requests.js';
import { stats } from './stats.js';
import { tasks } from './tasks.js';

/** Every route but the API docs, in mounting order. */
export const ROUTES = [
  health,
  register,
  heartbeat,
  pull,
  complete,
  tasks,
  stats,
  nodes,
  sealed,
  inputs,
  models,
  metrics,
  adminAuth,
  consoleAuth,
  adminTokens,
  consoleTokens,
  dashboard,
  adminModels,
  consoleModelPages,
  consolePrivacy,
  infer,
  sealedInfer,
  batchInfer,
  oip,
  periods,
  payees,
  requests,
  accounts,
  quote,
];
export { docs };
