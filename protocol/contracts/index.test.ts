import { describe, it, expect } from 'vitest';
import { Cl, ClarityType } from '@stacks/transactions';
import {
  escrowErrors,
  registryErrors,
  errorName,
  parseErrorConstants,
  submitTaskArgs,
  completeTasksArgs,
  deployModelArgs,
  decodeTaskSubmitted,
  decodeCompleteResults,
  decodeTask,
  decodeModelOutput,
  MAX_BATCH,
  orderForSettlement,
  DEFAULT_OUTPUT_PRECISION,
} from './index.js';

const H = 'ab'.repeat(32);
const ADDR = 'ST1SJ3DTE5DN7X54YDH5D64R3BCB6A2AG2ZQ8YPD5';
const TREASURY = 'ST2CY5V39NHDPWSXMW9QDT3HC3GD6Q6XX4CFRK9AG';

describe('error tables', () => {
  it('are read from the contract sources, each in its own range', () => {
    expect(escrowErrors.ERR_DEADLINE_PASSED).toBeGreaterThanOrEqual(2000);
    expect(registryErrors.ERR_NOT_OWNER).toBe(1001);
    for (const v of Object.values(escrowErrors)) {
      expect(v).toBeGreaterThanOrEqual(2000);
      expect(v).toBeLessThan(2100);
    }
    for (const v of Object.values(registryErrors)) {
      expect(v).toBeGreaterThanOrEqual(1000);
      expect(v).toBeLessThan(1100);
    }
    expect(errorName(escrowErrors.ERR_INVALID_SIGNATURE)).toBe('ERR_INVALID_SIGNATURE');
    expect(errorName(7)).toBe('unknown error u7');
  });
  it('parse only define-constant err lines', () => {
    expect(
      parseErrorConstants(
        '(define-constant ERR_A (err u5))\n(define-constant OK u1)\n;; (define-constant ERR_B (err u6))',
      ),
    ).toEqual({ ERR_A: 5 });
  });
});

describe('argument builders', () => {
  it('build typed values and reject bad input with the field name', () => {
    const args = submitTaskArgs({
      modelOutput: 1,
      inputHash: `0x${H}`,
      fee: 10n,
      maxBlocks: 5,
      privacy: 0,
      priority: 3,
    });
    // submit-task's seventh argument is the security level: 1 (one spot-checked node) unless asked.
    expect(args.map((a) => a.type)).toEqual([
      ClarityType.UInt,
      ClarityType.Buffer,
      ClarityType.UInt,
      ClarityType.UInt,
      ClarityType.UInt,
      ClarityType.UInt,
      ClarityType.UInt,
    ]);
    expect(args[6]).toStrictEqual(Cl.uint(1));
    expect(
      submitTaskArgs({ modelOutput: 1, inputHash: H, fee: 30, maxBlocks: 5, privacy: 0, priority: 0, security: 3 })[6],
    ).toStrictEqual(Cl.uint(3));
    expect(() =>
      submitTaskArgs({ modelOutput: 1, inputHash: H, fee: 30, maxBlocks: 5, privacy: 0, priority: 0, security: 2 }),
    ).toThrow(/security must be 1, 3 or 5/);
    expect(() =>
      submitTaskArgs({ modelOutput: 1, inputHash: 'abc', fee: 1, maxBlocks: 1, privacy: 0, priority: 0 }),
    ).toThrow(/inputHash must be 32 bytes/);
    expect(() =>
      submitTaskArgs({ modelOutput: 1, inputHash: H, fee: -1, maxBlocks: 1, privacy: 0, priority: 0 }),
    ).toThrow(/fee must not be negative/);
    const item = { taskId: 1, outputHash: H, nodePublicKey: `02${H}`, signature: 'cd'.repeat(65) };
    expect(() => completeTasksArgs([{ ...item, nodePublicKey: `04${H}${H}` }])).toThrow(
      /nodePublicKey \(compressed key\) must be 33 bytes/,
    );
    expect(() => completeTasksArgs(Array(MAX_BATCH + 1).fill(item))).toThrow(/at most 200/);
    expect(() => deployModelArgs({ model: '', artifactHash: H, format: 'onnx', price: 1, uri: '' })).toThrow(
      /model name/,
    );
    // deploy's last argument is the output precision: DEFAULT_OUTPUT_PRECISION unless named, 0..9.
    const deploy = deployModelArgs({ model: 'm', artifactHash: H, format: 'onnx', price: 1, uri: '' });
    expect(deploy).toHaveLength(6);
    expect(deploy[5]).toStrictEqual(Cl.uint(DEFAULT_OUTPUT_PRECISION));
    expect(
      deployModelArgs({ model: 'm', artifactHash: H, format: 'onnx', price: 1, uri: '', precision: 0 })[5],
    ).toStrictEqual(Cl.uint(0));
    expect(() =>
      deployModelArgs({ model: 'm', artifactHash: H, format: 'onnx', price: 1, uri: '', precision: 10 }),
    ).toThrow(/precision must be/);
  });
});

describe('orderForSettlement', () => {
  it('groups items by node, keeping their order within a node, without touching the input', () => {
    const items = [
      { nodePublicKey: '03bb', id: 1 },
      { nodePublicKey: '02aa', id: 2 },
      { nodePublicKey: '03bb', id: 3 },
      { nodePublicKey: '02aa', id: 4 },
    ];
    expect(orderForSettlement(items).map((i) => i.id)).toEqual([2, 4, 1, 3]);
    expect(items.map((i) => i.id)).toEqual([1, 2, 3, 4]);
  });
});

describe('decoders', () => {
  it('decode a task-submitted event', () => {
    const ev = Cl.tuple({
      event: Cl.stringAscii('task-submitted'),
      'task-id': Cl.uint(4),
      requester: Cl.principal(ADDR),
      'model-output': Cl.uint(2),
      model: Cl.stringAscii('m'),
      'artifact-hash': Cl.bufferFromHex(H),
      owner: Cl.principal(ADDR),
      'input-hash': Cl.bufferFromHex(H),
      fee: Cl.uint(100),
      deadline: Cl.uint(50),
      privacy: Cl.uint(1),
      priority: Cl.uint(7),
      security: Cl.uint(3),
      precision: Cl.uint(5),
      'owner-bps': Cl.uint(1000),
      'treasury-bps': Cl.uint(500),
      treasury: Cl.principal(TREASURY),
      'sample-bps': Cl.uint(500),
    });
    expect(decodeTaskSubmitted(ev)).toEqual({
      taskId: 4n,
      requester: ADDR,
      modelOutput: 2n,
      model: 'm',
      artifactHash: H,
      owner: ADDR,
      inputHash: H,
      fee: 100n,
      deadline: 50n,
      privacy: 1,
      priority: 7,
      security: 3,
      precision: 5,
      ownerBps: 1000,
      treasuryBps: 500,
      treasury: TREASURY,
      sampleBps: 500,
    });
    expect(() => decodeTaskSubmitted(Cl.tuple({ event: Cl.stringAscii('task-reclaimed') }))).toThrow(
      /not a task-submitted/,
    );
  });
  it('decode per-item results, tasks and outputs', () => {
    expect(decodeCompleteResults(Cl.ok(Cl.list([Cl.ok(Cl.uint(85)), Cl.error(Cl.uint(2013))])))).toEqual([
      { ok: true, payout: 85n },
      { ok: false, code: 2013 },
    ]);
    expect(decodeTask(Cl.none())).toBeNull();
    const task = decodeTask(
      Cl.some(
        Cl.tuple({
          requester: Cl.principal(ADDR),
          'model-output': Cl.uint(1),
          model: Cl.stringAscii('m'),
          'artifact-hash': Cl.bufferFromHex(H),
          owner: Cl.principal(ADDR),
          'input-hash': Cl.bufferFromHex(H),
          fee: Cl.uint(9),
          deadline: Cl.uint(3),
          privacy: Cl.uint(0),
          priority: Cl.uint(0),
          security: Cl.uint(1),
          precision: Cl.uint(0),
          'owner-bps': Cl.uint(0),
          'treasury-bps': Cl.uint(10000),
          treasury: Cl.principal(TREASURY),
          'sample-bps': Cl.uint(10000),
          status: Cl.uint(1),
          node: Cl.some(Cl.principal(ADDR)),
          'output-hash': Cl.some(Cl.bufferFromHex(H)),
        }),
      ),
    );
    expect(task).toMatchObject({ status: 'paid', node: ADDR, outputHash: H, fee: 9n });
    expect(task).toMatchObject({
      security: 1,
      precision: 0,
      ownerBps: 0,
      treasuryBps: 10000,
      treasury: TREASURY,
      sampleBps: 10000,
    });
    const out = decodeModelOutput(
      Cl.some(
        Cl.tuple({
          model: Cl.stringAscii('m'),
          owner: Cl.principal(ADDR),
          'artifact-hash': Cl.bufferFromHex(H),
          format: Cl.stringAscii('onnx'),
          version: Cl.uint(2),
          price: Cl.uint(5),
          uri: Cl.stringUtf8('ipfs://x'),
          precision: Cl.uint(4),
          parent: Cl.some(Cl.uint(1)),
          spent: Cl.bool(false),
        }),
      ),
    );
    expect(out).toEqual({
      outputId: null,
      model: 'm',
      owner: ADDR,
      artifactHash: H,
      format: 'onnx',
      version: 2n,
      price: 5n,
      uri: 'ipfs://x',
      precision: 4,
      parent: 1n,
      spent: false,
    });
  });
});
