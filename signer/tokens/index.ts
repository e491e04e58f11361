/**
 * API tokens for direct inference: the admin-side service (create, list, update, pause,
 * activate, delete, per the Cinfer token state machine) and `tokenAuth`, the guard of the
 * direct-inference routes.
 */
export * from './admission.js';
export * from './guard.js';
export * from './service.js';
export * from './settings.js';
export * from './state.js';
