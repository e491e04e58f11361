/**
 * The devnet's one adapter over clarinet-sdk internals (devnet/simnet.ts): what the devnet relies
 * on, checked against the installed sdk, so an upgrade that moves them fails here first.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { tx, type Simnet } from '@stacks/clarinet-sdk';
import { Cl, serializeCVBytes } from '@stacks/transactions';
import {
  acquireSimnet,
  captureConsole,
  freeSimnet,
  openSimnet,
  quiet,
  rawMineBlock,
  releaseSimnet,
} from '../../devnet/simnet.js';
import { FEE_SINK, genesisFingerprint } from '../../devnet/vm.js';
import { snapshotProject, ESCROW } from './helpers.js';

let simnet: Simnet;
let manifest: string;

beforeAll(async () => {
  manifest = snapshotProject();
  const before = console.log;
  simnet = await openSimnet(manifest);
  expect(console.log).toBe(before);
}, 120_000);
afterAll(() => {
  if (simnet) freeSimnet(simnet);
  rmSync(dirname(manifest), { recursive: true, force: true });
});

describe('devnet/simnet.ts', () => {
  it('captures what simnet prints for a call, and gives the console back', () => {
    const before = { log: console.log, error: console.error };
    const r = captureConsole(() => simnet.execute('(print "adapter-hello")'));
    expect(r.lines.join('\n')).toContain('"adapter-hello"');
    expect(r.value.result).toStrictEqual(Cl.stringAscii('adapter-hello'));
    expect({ log: console.log, error: console.error }).toEqual(before);
    expect(quiet(() => simnet.execute('(+ 1 2)')).result).toStrictEqual(Cl.int(3));
  });

  it('gives the console back when the call throws', () => {
    const before = { log: console.log, error: console.error };
    expect(() => captureConsole(() => simnet.execute('(unwrap-panic (err u1))'))).toThrow();
    expect(() =>
      captureConsole(() => {
        console.log('half way');
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect({ log: console.log, error: console.error }).toEqual(before);
  });

  it("mines with the wasm session's own mineBlock: bytes in, hex results and JSON events out, nothing printed", () => {
    const height = simnet.blockHeight;
    const mine = rawMineBlock(simnet);
    const reclaim = {
      callPublicFn: {
        contract: ESCROW,
        method: 'reclaim',
        args_maps: [serializeCVBytes(Cl.uint(999))],
        sender: simnet.deployer,
      },
    };
    const { value: results, lines } = captureConsole(() =>
      mine([tx.transferSTX(5, FEE_SINK, simnet.deployer), reclaim]),
    );
    expect(lines).toEqual([]);
    expect(simnet.blockHeight).toBe(height + 1);
    expect(results[0].result).toBe('0x0703'); // (ok true)
    expect(JSON.parse(JSON.parse(results[0].events)[0])).toMatchObject({
      event: 'stx_transfer_event',
      data: { amount: '5', recipient: FEE_SINK },
    });
    expect(results[1].result).toMatch(/^0x08/); // (err ...): no such task
  });

  it("starts a released session again at genesis, and never hands one genesis another's session", async () => {
    const genesis = genesisFingerprint(manifest);
    const first = await acquireSimnet(manifest, genesis);
    const height = first.blockHeight;
    const balance = () => first.getAssetsMap().get('STX')?.get(first.deployer);
    const funded = balance();
    quiet(() => first.mineBlock([tx.transferSTX(1234, FEE_SINK, first.deployer)]));
    quiet(() => first.mineEmptyBlocks(3));
    expect(first.blockHeight).toBe(height + 4);
    expect(balance()).toBe(funded! - 1234n);
    const busy = await acquireSimnet(manifest, genesis); // the first is in use: a session of its own
    expect(busy).not.toBe(first);
    releaseSimnet(busy);
    releaseSimnet(first);
    releaseSimnet(first); // once idle, giving it back again changes nothing
    const again = await acquireSimnet(manifest, genesis);
    expect(again).toBe(first);
    expect(again.blockHeight).toBe(height);
    expect(balance()).toBe(funded);
    const next = await acquireSimnet(manifest, genesis);
    expect(next).toBe(busy); // not the first a second time
    expect(next.blockHeight).toBe(height);
    const other = await acquireSimnet(manifest, `not-${genesis}`);
    expect(other).not.toBe(first);
    expect(other).not.toBe(busy);
    for (const s of [again, next, other]) releaseSimnet(s);
  }, 120_000);
});
