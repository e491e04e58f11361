import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBinaryInputs, encodeBinaryInputs, isBinaryInputs, jsonInputsToBinary, TensorError } from './index.js';

const header = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes.subarray(0, bytes.indexOf(0x0a))));

describe('binary input blobs (KServe binary tensor extension in one blob)', () => {
  it('round-trips tensors of several datatypes exactly, in order', () => {
    const x = Float32Array.from({ length: 6 }, (_, i) => i / 3 - 1);
    const ids = BigInt64Array.from([1n, -2n, 2n ** 62n]);
    const mask = Uint8Array.from([1, 0, 1]);
    const blob = encodeBinaryInputs([
      { name: 'x', datatype: 'FP32', shape: [2, 3], data: x },
      { name: 'ids', datatype: 'INT64', shape: [3], data: ids },
      { name: 'mask', datatype: 'BOOL', shape: [3], data: mask },
    ]);
    expect(isBinaryInputs(blob)).toBe(true);
    expect(
      header(blob).inputs.map((t: { parameters: { binary_data_size: number } }) => t.parameters.binary_data_size),
    ).toEqual([24, 24, 3]);
    const out = decodeBinaryInputs(blob);
    expect(out.map((t) => t.name)).toEqual(['x', 'ids', 'mask']);
    expect(out[0]!.tensor).toEqual({ datatype: 'FP32', dims: [2, 3], data: x });
    expect(out[1]!.tensor.data).toEqual(ids);
    expect(out[2]!.tensor.data).toEqual(mask);
  });

  it('is smaller than the JSON form of the same FP32 tensor', () => {
    const data = Float32Array.from({ length: 3 * 48 * 192 }, (_, i) => Math.sin(i));
    const binary = encodeBinaryInputs([{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], data }]);
    const json = JSON.stringify({
      inputs: [{ name: 'x', shape: [1, 3, 48, 192], datatype: 'FP32', data: Array.from(data) }],
    });
    expect(binary.length).toBeLessThan(json.length / 2);
  });

  it('does not take plain JSON (even pretty-printed, with newlines) for a binary blob', () => {
    const json = JSON.stringify({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }] }, null, 2);
    expect(isBinaryInputs(new TextEncoder().encode(json))).toBe(false);
    expect(() => decodeBinaryInputs(new TextEncoder().encode(json))).toThrow(/not a binary input blob/);
  });

  it('says what is inconsistent: size against shape, a short blob, trailing bytes, a datatype without fixed width', () => {
    const good = encodeBinaryInputs([{ name: 'x', datatype: 'FP32', shape: [2], data: Float32Array.from([1, 2]) }]);
    const withHeader = (h: unknown, body: Uint8Array) => {
      const head = new TextEncoder().encode(`${JSON.stringify(h)}\n`);
      const out = new Uint8Array(head.length + body.length);
      out.set(head);
      out.set(body, head.length);
      return out;
    };
    const body = good.subarray(good.indexOf(0x0a) + 1);
    expect(() =>
      decodeBinaryInputs(
        withHeader(
          { inputs: [{ name: 'x', shape: [3], datatype: 'FP32', parameters: { binary_data_size: 8 } }] },
          body,
        ),
      ),
    ).toThrow(/needs 12 bytes but binary_data_size is 8/);
    expect(() => decodeBinaryInputs(good.subarray(0, good.length - 1))).toThrow(/ends before its 8 bytes/);
    expect(() => decodeBinaryInputs(withHeader(header(good), new Uint8Array([...body, 0])))).toThrow(
      /1 bytes after its last tensor/,
    );
    expect(() =>
      decodeBinaryInputs(
        withHeader(
          { inputs: [{ name: 's', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: 1 } }] },
          new Uint8Array(1),
        ),
      ),
    ).toThrow(/datatype must be one of/);
    expect(() =>
      encodeBinaryInputs([{ name: 'x', datatype: 'FP32', shape: [3], data: Float32Array.from([1]) }]),
    ).toThrow(/needs 3 elements/);
  });
});

describe('jsonInputsToBinary', () => {
  it('converts an OIP JSON input to the binary form with the same values', () => {
    const json = JSON.stringify({
      inputs: [
        {
          name: 'x',
          shape: [2, 2],
          datatype: 'FP32',
          data: [
            [0.5, -1],
            [2, 3.25],
          ],
        },
      ],
    });
    const out = decodeBinaryInputs(jsonInputsToBinary(json));
    expect(out[0]).toEqual({
      name: 'x',
      tensor: { datatype: 'FP32', dims: [2, 2], data: Float32Array.from([0.5, -1, 2, 3.25]) },
    });
  });

  it('refuses what the binary form cannot carry, or what is not an input', () => {
    expect(() =>
      jsonInputsToBinary(JSON.stringify({ inputs: [{ name: 's', shape: [1], datatype: 'BYTES', data: ['a'] }] })),
    ).toThrow(/BYTES has no fixed width/);
    expect(() => jsonInputsToBinary('{"inputs": [')).toThrow(/not valid JSON/);
    expect(() => jsonInputsToBinary('{"outputs": []}')).toThrow(/Open Inference Protocol form/);
  });
});

describe('binary blobs from anyone', () => {
  it('decoding arbitrary or damaged bytes either works or throws a TensorError, never anything else', () => {
    const good = encodeBinaryInputs([
      { name: 'x', datatype: 'FP32', shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) },
    ]);
    const header = (h: string) => new TextEncoder().encode(`${h}\n`);
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      // the good blob with some bytes changed, cut or extended
      fc
        .tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 }), fc.integer({ min: -8, max: 8 }))
        .map(([at, v, cut]) => {
          const copy = good.slice(0, Math.max(1, good.length + Math.min(0, cut)));
          copy[Math.min(at, copy.length - 1)] = v;
          return cut > 0 ? new Uint8Array([...copy, ...new Uint8Array(cut)]) : copy;
        }),
      // headers of every shape, followed by a few bytes
      fc
        .tuple(fc.jsonValue({ maxDepth: 4 }), fc.uint8Array({ maxLength: 32 }))
        .map(([j, rest]) => new Uint8Array([...header(JSON.stringify({ inputs: [j] })), ...rest])),
      fc
        .tuple(
          fc.string(),
          fc.array(fc.integer({ min: -2, max: 3 }), { maxLength: 4 }),
          fc.string(),
          fc.integer({ min: -1, max: 64 }),
        )
        .map(([name, shape, datatype, size]) =>
          header(JSON.stringify({ inputs: [{ name, shape, datatype, parameters: { binary_data_size: size } }] })),
        ),
    );
    fc.assert(
      fc.property(bytes, (b) => {
        try {
          if (isBinaryInputs(b)) decodeBinaryInputs(b);
        } catch (err) {
          expect(err).toBeInstanceOf(TensorError);
        }
      }),
      { numRuns: 2000, seed: 20261201 },
    );
  });
});
