/** The HTTP layer: the Hono app factory and the OpenAPI document. */
export { createApp } from './app.js';
export { openApiDocument } from './openapi.js';
export type { Env } from './env.js';
