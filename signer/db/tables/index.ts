/** The signer's database schema, one table (or one concern's tables) per file: the folder's door, and drizzle-kit's schema. */
export { inferenceTasks } from './tasks.js';
export { inferenceNodes } from './nodes.js';
export { taskEvents } from './task-events.js';
export { chainCursor } from './chain-cursor.js';
export { settlements } from './settlements.js';
export { inputBlobs } from './input-blobs.js';
export { adminUsers, adminSessions, apiTokens, inferenceLogs, consoleModels } from './console.js';
export { prepaidAccounts, prepaidReceipts, prepaidPeriods, payeeCredits } from './prepaid.js';
export { modelPolicies, guardAudit } from './guard.js';
export { nodeReservations, sealedInputs } from './privacy.js';
export { leaderLease, replayKeys, loginFailures, consoleSetup } from './cluster.js';
