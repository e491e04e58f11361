import { describe, it, expect } from 'vitest';
import { Cl } from '@stacks/transactions';
import {
  registryErrors as E,
  decodeModelOutput,
  deployModelArgs,
  upgradeModelArgs,
  transferModelArgs,
  retireModelArgs,
  rollbackModelArgs,
  DEFAULT_OUTPUT_PRECISION,
} from '../../protocol/contracts/index.js';
import { registryId, deployer, wallets, deployModel, hash, okUint } from './helpers.js';

const [alice, bob] = wallets;
const head = (model: string) =>
  decodeModelOutput(simnet.callReadOnlyFn(registryId, 'get-head', [Cl.stringAscii(model)], alice).result);
const output = (id: bigint) =>
  decodeModelOutput(simnet.callReadOnlyFn(registryId, 'get-output', [Cl.uint(id)], alice).result);
const call = (fn: string, args: Parameters<typeof simnet.callPublicFn>[2], sender = alice) =>
  simnet.callPublicFn(registryId, fn, args, sender);
const upgrade = (id: bigint, sender = alice, artifact = 'v2', price = 150n) =>
  call(
    'upgrade',
    upgradeModelArgs({ outputId: id, artifactHash: hash(artifact), format: 'onnx', price, uri: `ipfs://${artifact}` }),
    sender,
  );
const rawDeploy = (model: string, artifact: string, format: string, precision = 5) =>
  call('deploy', [
    Cl.stringAscii(model),
    Cl.bufferFromHex(artifact),
    Cl.stringAscii(format),
    Cl.uint(1),
    Cl.stringUtf8(''),
    Cl.uint(precision),
  ]);
const printed = (r: ReturnType<typeof call>) =>
  r.events.filter((e) => e.event === 'print_event').map((e) => e.data.value);

describe('deploy', () => {
  it('creates version 1 owned by the caller, prints model-deployed, and becomes the head', () => {
    const r = call('deploy', [
      Cl.stringAscii('resnet'),
      Cl.bufferFromHex(hash('resnet')),
      Cl.stringAscii('onnx'),
      Cl.uint(100),
      Cl.stringUtf8('ipfs://resnet'),
      Cl.uint(6),
    ]);
    expect(r.result).toBeOk(Cl.uint(1));
    expect(head('resnet')).toEqual({
      outputId: 1n,
      model: 'resnet',
      owner: alice,
      artifactHash: hash('resnet'),
      format: 'onnx',
      version: 1n,
      price: 100n,
      uri: 'ipfs://resnet',
      precision: 6,
      parent: null,
      spent: false,
    });
    const [ev] = printed(r);
    expect(ev).toBeTuple({
      event: Cl.stringAscii('model-deployed'),
      'output-id': Cl.uint(1),
      model: Cl.stringAscii('resnet'),
      owner: Cl.principal(alice),
      'artifact-hash': Cl.bufferFromHex(hash('resnet')),
      format: Cl.stringAscii('onnx'),
      version: Cl.uint(1),
      price: Cl.uint(100),
      uri: Cl.stringUtf8('ipfs://resnet'),
      precision: Cl.uint(6),
      parent: Cl.none(),
    });
    expect(head('other')).toBeNull();
  });

  it('refuses a taken name, an empty name, a short hash, an empty format and a precision above 9 digits', () => {
    deployModel(alice, 'resnet');
    expect(rawDeploy('resnet', hash('x'), 'onnx').result).toBeErr(Cl.uint(E.ERR_MODEL_EXISTS));
    expect(
      call(
        'deploy',
        [
          Cl.stringAscii('resnet'),
          Cl.bufferFromHex(hash('x')),
          Cl.stringAscii('onnx'),
          Cl.uint(1),
          Cl.stringUtf8(''),
          Cl.uint(5),
        ],
        bob,
      ).result,
    ).toBeErr(Cl.uint(E.ERR_MODEL_EXISTS));
    expect(rawDeploy('m2', hash('x'), 'onnx', 10).result).toBeErr(Cl.uint(E.ERR_INVALID_PRECISION));
    // u0 compares float outputs exactly; 9 is the most a float could need
    expect(rawDeploy('exact', hash('x'), 'onnx', 0).result).toBeOk(Cl.uint(2));
    expect(rawDeploy('fine', hash('x'), 'onnx', 9).result).toBeOk(Cl.uint(3));
    expect(rawDeploy('', hash('x'), 'onnx').result).toBeErr(Cl.uint(E.ERR_INVALID_MODEL));
    expect(rawDeploy('m2', 'abcd', 'onnx').result).toBeErr(Cl.uint(E.ERR_INVALID_HASH));
    expect(rawDeploy('m2', hash('x'), '').result).toBeErr(Cl.uint(E.ERR_INVALID_FORMAT));
  });
});

describe('upgrade', () => {
  it('spends the head and creates the next version as the new head', () => {
    const v1 = deployModel(alice, 'resnet');
    const r = upgrade(v1);
    const v2 = okUint(r.result, 'upgrade');
    expect(output(v1)?.spent).toBe(true);
    expect(head('resnet')).toMatchObject({
      outputId: v2,
      version: 2n,
      parent: v1,
      artifactHash: hash('v2'),
      price: 150n,
      owner: alice,
      spent: false,
    });
    expect(printed(r)[0]).toBeTuple(
      expect.objectContaining({ event: Cl.stringAscii('model-upgraded'), parent: Cl.some(Cl.uint(v1)) }),
    );
  });

  it('is refused to a non-owner, for a spent output, an unknown output and a bad artifact', () => {
    const v1 = deployModel(alice, 'resnet');
    expect(upgrade(v1, bob).result).toBeErr(Cl.uint(E.ERR_NOT_OWNER));
    expect(upgrade(99n).result).toBeErr(Cl.uint(E.ERR_OUTPUT_NOT_FOUND));
    expect(
      call('upgrade', [
        Cl.uint(v1),
        Cl.bufferFromHex('00'),
        Cl.stringAscii('onnx'),
        Cl.uint(1),
        Cl.stringUtf8(''),
        Cl.uint(5),
      ]).result,
    ).toBeErr(Cl.uint(E.ERR_INVALID_HASH));
    expect(
      call('upgrade', [
        Cl.uint(v1),
        Cl.bufferFromHex(hash('a')),
        Cl.stringAscii(''),
        Cl.uint(1),
        Cl.stringUtf8(''),
        Cl.uint(5),
      ]).result,
    ).toBeErr(Cl.uint(E.ERR_INVALID_FORMAT));
    expect(
      call('upgrade', [
        Cl.uint(v1),
        Cl.bufferFromHex(hash('a')),
        Cl.stringAscii('onnx'),
        Cl.uint(1),
        Cl.stringUtf8(''),
        Cl.uint(10),
      ]).result,
    ).toBeErr(Cl.uint(E.ERR_INVALID_PRECISION));
    okUint(upgrade(v1).result, 'upgrade');
    expect(upgrade(v1).result).toBeErr(Cl.uint(E.ERR_OUTPUT_SPENT));
  });
});

describe('transfer', () => {
  it('re-creates the output for the new owner, who alone can spend it', () => {
    const v1 = deployModel(alice, 'resnet');
    const r = call('transfer', transferModelArgs(v1, bob));
    const t = okUint(r.result, 'transfer');
    expect(head('resnet')).toMatchObject({
      outputId: t,
      owner: bob,
      version: 1n,
      parent: v1,
      artifactHash: hash('resnet'),
    });
    expect(printed(r)[0]).toBeTuple(
      expect.objectContaining({ event: Cl.stringAscii('model-transferred'), owner: Cl.principal(bob) }),
    );
    expect(upgrade(t, alice).result).toBeErr(Cl.uint(E.ERR_NOT_OWNER));
    expect(upgrade(t, bob).result).toBeOk(Cl.uint(t + 1n));
  });

  it('is refused to the current owner, a non-owner, and for a spent output', () => {
    const v1 = deployModel(alice, 'resnet');
    expect(call('transfer', transferModelArgs(v1, alice)).result).toBeErr(Cl.uint(E.ERR_SAME_OWNER));
    expect(call('transfer', transferModelArgs(v1, bob), bob).result).toBeErr(Cl.uint(E.ERR_NOT_OWNER));
    okUint(call('transfer', transferModelArgs(v1, bob)).result, 'transfer');
    expect(call('transfer', transferModelArgs(v1, deployer)).result).toBeErr(Cl.uint(E.ERR_OUTPUT_SPENT));
  });
});

describe('retire', () => {
  it('unpublishes the model for good: no head, name stays taken, output stays spent', () => {
    const v1 = deployModel(alice, 'resnet');
    expect(call('retire', retireModelArgs(v1), bob).result).toBeErr(Cl.uint(E.ERR_NOT_OWNER));
    const r = call('retire', retireModelArgs(v1));
    expect(r.result).toBeOk(Cl.bool(true));
    expect(printed(r)[0]).toBeTuple(
      expect.objectContaining({ event: Cl.stringAscii('model-retired'), 'output-id': Cl.uint(v1) }),
    );
    expect(head('resnet')).toBeNull();
    expect(output(v1)?.spent).toBe(true);
    expect(call('retire', retireModelArgs(v1)).result).toBeErr(Cl.uint(E.ERR_OUTPUT_SPENT));
    expect(call('retire', retireModelArgs(77n)).result).toBeErr(Cl.uint(E.ERR_OUTPUT_NOT_FOUND));
    expect(rawDeploy('resnet', hash('x'), 'onnx').result).toBeErr(Cl.uint(E.ERR_MODEL_EXISTS));
  });
});

describe('rollback', () => {
  it("creates a new version carrying the ancestor's artifact, format and uri at the current price", () => {
    const v1 = deployModel(alice, 'resnet', 100n);
    const v2 = okUint(upgrade(v1, alice, 'v2', 300n).result, 'upgrade');
    const r = call('rollback', rollbackModelArgs(v2, v1));
    const v3 = okUint(r.result, 'rollback');
    expect(head('resnet')).toMatchObject({
      outputId: v3,
      version: 3n,
      parent: v2,
      artifactHash: hash('resnet'),
      uri: 'ipfs://resnet',
      price: 300n,
    });
    expect(printed(r)[0]).toBeTuple(expect.objectContaining({ event: Cl.stringAscii('model-rolled-back') }));
  });

  it('is refused for another model, a later or unknown output, a non-owner and a spent output', () => {
    const v1 = deployModel(alice, 'resnet');
    const other = deployModel(alice, 'bert');
    const v2 = okUint(upgrade(v1).result, 'upgrade');
    expect(call('rollback', rollbackModelArgs(v2, other)).result).toBeErr(Cl.uint(E.ERR_INVALID_ANCESTOR));
    expect(call('rollback', rollbackModelArgs(v2, v2)).result).toBeErr(Cl.uint(E.ERR_INVALID_ANCESTOR));
    expect(call('rollback', rollbackModelArgs(v2, 500n)).result).toBeErr(Cl.uint(E.ERR_INVALID_ANCESTOR));
    expect(call('rollback', rollbackModelArgs(v2, v1), bob).result).toBeErr(Cl.uint(E.ERR_NOT_OWNER));
    expect(call('rollback', rollbackModelArgs(v1, v1)).result).toBeErr(Cl.uint(E.ERR_OUTPUT_SPENT));
    expect(call('rollback', rollbackModelArgs(v2, v1)).result).toBeOk(Cl.uint(v2 + 1n));
  });
});

describe('precision', () => {
  it('is set by deploy and upgrade, kept by transfer, and carried back by rollback from the ancestor', () => {
    const v1 = deployModel(alice, 'resnet', 100n, 4);
    expect(output(v1)?.precision).toBe(4);
    const v2 = okUint(
      call(
        'upgrade',
        upgradeModelArgs({
          outputId: v1,
          artifactHash: hash('v2'),
          format: 'onnx',
          price: 100n,
          uri: '',
          precision: 7,
        }),
      ).result,
      'upgrade',
    );
    expect(head('resnet')).toMatchObject({ outputId: v2, precision: 7 });
    const r = call('transfer', transferModelArgs(v2, bob));
    const v2b = okUint(r.result, 'transfer');
    expect(head('resnet')).toMatchObject({ outputId: v2b, owner: bob, precision: 7 });
    expect(printed(r)[0]).toBeTuple(
      expect.objectContaining({ event: Cl.stringAscii('model-transferred'), precision: Cl.uint(7) }),
    );
    // rolling back to v1 restores v1's artifact, so also the tolerance its outputs are compared with
    const v3 = okUint(call('rollback', rollbackModelArgs(v2b, v1), bob).result, 'rollback');
    expect(head('resnet')).toMatchObject({ outputId: v3, artifactHash: hash('resnet'), precision: 4 });
  });

  it('defaults to DEFAULT_OUTPUT_PRECISION digits when the publisher names none', () => {
    const id = okUint(
      call('deploy', deployModelArgs({ model: 'bert', artifactHash: hash('bert'), format: 'onnx', price: 1n, uri: '' }))
        .result,
      'deploy',
    );
    expect(output(id)?.precision).toBe(DEFAULT_OUTPUT_PRECISION);
  });
});
