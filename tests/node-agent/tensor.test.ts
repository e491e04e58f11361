import { describe, expect, it } from 'vitest';
import {
  decodeTensor,
  encodeTensor,
  inferenceInputsSchema,
  jsonHash,
  oipTensorSchema,
  TensorError,
} from '../../protocol/index.js';

describe('protocol/tensor: the OIP JSON codec', () => {
  it('decodes flat and nested data into typed arrays and encodes them back', () => {
    const flat = decodeTensor({ name: 'x', shape: [2, 2], datatype: 'FP32', data: [1, 2.5, -3, 4] });
    const nested = decodeTensor({
      name: 'x',
      shape: [2, 2],
      datatype: 'FP32',
      data: [
        [1, 2.5],
        [-3, 4],
      ],
    });
    expect(flat.data).toBeInstanceOf(Float32Array);
    expect(Array.from(nested.data as Float32Array)).toEqual([1, 2.5, -3, 4]);
    expect(encodeTensor('x', flat)).toEqual({ name: 'x', shape: [2, 2], datatype: 'FP32', data: [1, 2.5, -3, 4] });
    const ints = decodeTensor({ name: 'ids', shape: [3], datatype: 'INT64', data: [1, -2, 3] });
    expect(ints.data).toBeInstanceOf(BigInt64Array);
    expect(encodeTensor('ids', ints).data).toEqual([1, -2, 3]);
    expect(
      encodeTensor('b', decodeTensor({ name: 'b', shape: [2], datatype: 'BOOL', data: [true, false] })).data,
    ).toEqual([true, false]);
  });

  it('names the tensor, the element and the expectation when data does not fit', () => {
    expect(() => decodeTensor({ name: 'x', shape: [2, 3], datatype: 'FP32', data: [1, 2] })).toThrow(
      'tensor "x": shape [2,3] needs 6 elements but data has 2',
    );
    expect(() => decodeTensor({ name: 'x', shape: [2], datatype: 'UINT8', data: [1, 300] })).toThrow(
      /element 1 is 300, expected an integer in \[0, 255\]/,
    );
    expect(() => decodeTensor({ name: 'x', shape: [1], datatype: 'FP32', data: ['a'] })).toThrow(TensorError);
    expect(() => decodeTensor({ name: 'x', shape: [1], datatype: 'INT32', data: [1.5] })).toThrow(
      /expected an integer/,
    );
  });

  it('rejects malformed tensors with a message saying what is allowed', () => {
    const bad = oipTensorSchema.safeParse({ name: 'x', shape: [1], datatype: 'FLOAT', data: [1] });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0]!.message).toMatch(/datatype must be one of BOOL, UINT8/);
    expect(inferenceInputsSchema.safeParse({ inputs: [] }).success).toBe(false);
    expect(oipTensorSchema.safeParse({ name: 'x', shape: [-1], datatype: 'FP32', data: [] }).success).toBe(false);
  });

  it('hashes an encoded output the same however its keys are ordered', () => {
    const a = { outputs: [{ name: 'y', shape: [1, 2], datatype: 'FP32', data: [0.25, 0.75] }] };
    const b = { outputs: [{ data: [0.25, 0.75], datatype: 'FP32', shape: [1, 2], name: 'y' }] };
    expect(jsonHash(a)).toBe(jsonHash(b));
  });
});
