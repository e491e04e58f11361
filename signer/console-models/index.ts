/**
 * Models uploaded through the operator console: stored in the artifact store by sha256 once
 * onnxruntime has loaded them, their inputs and outputs recorded, test-run on demand, then
 * published on chain (see publish.ts). Every upload is a `console_models` row whatever happens
 * to it, so the console shows why a file was refused.
 */
export * from './store.js';
export { chainModels, modelHistory, type ChainModel, type ChainModels } from './on-chain.js';
export { publishModel, rollbackModel, unpublishModel } from './publish.js';
export type { TensorInfo, TestRun } from './onnx.js';
export { inspectModel } from './onnx.js';
