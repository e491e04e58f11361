/** Tasks: the state machine, the scheduler, leases and deadlines, and result acceptance. */
export * from './state.js';
export { leaseNext, scoreNode, SCORE_WEIGHTS, leaseUpTo } from './scheduler.js';
export { failAttempt, sweep, timeoutPastDeadline, type SweepResult } from './leases.js';
export { acceptResult, acceptResults } from './results.js';
export { Notifier } from './notifier.js';
export { DIRECT_TASK_ID_BASE, directTaskId } from './ids.js';
export { runsFor, readVotes } from './votes.js';
