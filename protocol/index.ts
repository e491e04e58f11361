/** The protocol shared by every part: statuses, hashes, SIP-018 messages, API schemas, error codes, worker pools. */
export * from './status/index.js';
export * from './hash/index.js';
export * from './sip018/index.js';
export * from './sip018/requester.js';
export * from './api/index.js';
export * from './tensor/index.js';
export * from './accounts/index.js';
export * from './errors/index.js';
export * from './workers/index.js';
export * from './privacy/index.js';
