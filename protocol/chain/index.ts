/** What every part needs to talk to a Stacks chain: network names and ids, key form, transaction following. */
export * from './network.js';
export * from './keys.js';
export * from './tx.js';
