/**
 * The contracts as TypeScript sees them: names, status codes, typed arguments, decoders of
 * their events and read-only results, and their error codes (read from the Clarity source).
 */
export * from './args.js';
export * from './decode.js';
export * from './errors.js';
export * from './accounts.js';

/** Contract name of the UTXO-style model registry. */
export const MODEL_REGISTRY = 'model-registry';
/** Contract name of the escrow that takes fees and settles results. */
export const INFERENCE_ESCROW = 'inference-escrow';
