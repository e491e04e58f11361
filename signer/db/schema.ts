/** The signer's database schema: one table per file under tables/. */
export { inferenceTasks } from './tables/tasks.js';
export { inferenceNodes } from './tables/nodes.js';
export { taskEvents } from './tables/task-events.js';
export { chainCursor } from './tables/chain-cursor.js';
export { settlements } from './tables/settlements.js';
export { inputBlobs } from './tables/input-blobs.js';
export { adminUsers, adminSessions, apiTokens, inferenceLogs, consoleModels } from './tables/console.js';
export { prepaidAccounts, prepaidReceipts, prepaidPeriods, payeeCredits } from './tables/prepaid.js';
