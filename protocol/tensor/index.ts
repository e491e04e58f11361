/** Open Inference Protocol tensors: the JSON codec, and the binary form for large inputs. */
export * from './codec.js';
export * from './binary.js';
