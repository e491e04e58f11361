/**
 * The protocol shared by every part, and its one door: statuses, hashes, SIP-018 messages, API
 * schemas, error codes, tensors, prepaid accounts, contract arguments and results, chain and config
 * helpers, worker pools, data levels.
 */
export * from './status/index.js';
export * from './hash/index.js';
export * from './sip018/index.js';
export * from './api/index.js';
export * from './tensor/index.js';
export * from './accounts/index.js';
export * from './errors/index.js';
export * from './workers/index.js';
export * from './privacy/index.js';
export * from './contracts/index.js';
export * from './chain/index.js';
export * from './config/index.js';
