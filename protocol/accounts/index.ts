/** Prepaid accounts (contracts/accounts.clar): SIP-018 messages, receipt leaves and their Merkle tree, wire forms, the requester's checks. */
export * from './messages.js';
export * from './merkle.js';
export * from './wire.js';
export * from './client.js';
