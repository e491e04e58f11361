/** Direct inference for API-token holders: the bounded priority queue, outcomes, metering and model lookup. */
export {
  DirectInference,
  DIRECT_TASK_ID_BASE,
  QueueFullError,
  directTaskId,
  type EnqueueOptions,
  type QueuedInput,
} from './queue.js';
export { outcomeOf, type InferResult, type Outcome } from './outcome.js';
export { meter, meterTask, type UsageRow, meterBatch } from './metering.js';
export { liveModel, onlineNodesServing, timeoutMessage } from './models.js';
export { ModelIoReader, recordedIo, type ModelIo, type TensorMetadata } from './io.js';
export { directContext, type DirectContext } from './context.js';
export { queueRequests, queueSealedRequest } from './requests.js';
