/**
 * SIP-018 structured data: the messages a node signs (task results, HTTP requests) and those a
 * requester signs (reading a result, uploading an input), with their canonical-signature checks.
 */
export * from './messages.js';
export * from './requester.js';
export { hash32, structuredDataBytes } from './encode.js';
export { libsecp256k1, type Secp256k1 } from './native.js';
