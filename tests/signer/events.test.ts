import { Cl, serializeCV } from '@stacks/transactions';
import { describe, expect, it } from 'vitest';
import { taskSubmitted, toTaskEvent, type ApiLog } from '../../signer/chain/task-events.js';

const ADDR = 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM';
const TREASURY = 'ST2CY5V39NHDPWSXMW9QDT3HC3GD6Q6XX4CFRK9AG';
/** A task-submitted event with every field inference-escrow's submit-task prints, typed as it prints them. */
const submitted = (id: number) =>
  Cl.tuple({
    event: Cl.stringAscii('task-submitted'),
    'task-id': Cl.uint(id),
    requester: Cl.principal(ADDR),
    'model-output': Cl.uint(1),
    model: Cl.stringAscii('m'),
    'artifact-hash': Cl.bufferFromHex('ab'.repeat(32)),
    owner: Cl.principal(ADDR),
    'input-hash': Cl.bufferFromHex('cd'.repeat(32)),
    fee: Cl.uint(1000),
    deadline: Cl.uint(100),
    privacy: Cl.uint(0),
    priority: Cl.uint(2),
    security: Cl.uint(3),
    precision: Cl.uint(5),
    'owner-bps': Cl.uint(1000),
    'treasury-bps': Cl.uint(500),
    treasury: Cl.principal(TREASURY),
    'sample-bps': Cl.uint(250),
  });
const completed = (id: number) =>
  Cl.tuple({
    event: Cl.stringAscii('task-completed'),
    'task-id': Cl.uint(id),
    node: Cl.principal(ADDR),
    fee: Cl.uint(1000),
  });

/** An escrow print as the API lists it. */
const log = (cv: ReturnType<typeof Cl.tuple>, i: number, hex = `0x${serializeCV(cv)}`): ApiLog => ({
  event_index: i,
  event_type: 'smart_contract_log',
  tx_id: `0x${i.toString(16).padStart(64, '0')}`,
  contract_log: { contract_id: `${ADDR}.inference-escrow`, topic: 'print', value: { hex, repr: '' } },
});

describe('task-submitted events', () => {
  it("are told apart from the escrow's other prints and decoded with the frozen terms", () => {
    const values = [
      submitted(1),
      completed(1),
      Cl.tuple({ event: Cl.stringUtf8('task-submitted'), 'task-id': Cl.uint(9) }),
      submitted(2),
    ];
    const tasks = values
      .map((cv, i) => log(cv, i))
      .flatMap((l) => {
        const cv = taskSubmitted(l);
        return cv ? [toTaskEvent(l, cv, 7)] : [];
      });
    expect(tasks.map((e) => e.chainTaskId)).toEqual([1n, 2n]);
    expect(tasks[1]).toMatchObject({
      model: 'm',
      fee: 1000n,
      deadline: 100n,
      priority: 2,
      blockHeight: 7,
      eventIndex: 3,
    });
    // The task's frozen terms the scheduler runs it by: how many nodes, the rounding, the spot-check rate.
    expect(tasks[1]).toMatchObject({
      artifactHash: 'ab'.repeat(32),
      inputHash: 'cd'.repeat(32),
      security: 3,
      precision: 5,
      sampleBps: 250,
    });
    expect(tasks[1].txid).toBe('3'.padStart(64, '0'));
  });

  it('are read from upper-case hex as the API might send it', () => {
    const l = log(submitted(5), 0, `0x${serializeCV(submitted(5)).toUpperCase()}`);
    expect(toTaskEvent(l, taskSubmitted(l)!, 1).chainTaskId).toBe(5n);
  });
});
