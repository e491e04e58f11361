import { describe, it, expect } from 'vitest';
import { Cl } from '@stacks/transactions';
import { structuredDataHash, taskResultMessageCV, domainCV, TASK_RESULT_DOMAIN, CHAIN_ID } from '../../protocol/sip018/index.js';
import { escrowId, deployer, chainId, hash } from './helpers.js';

describe('SIP-018 task-result hash', () => {
  it('is the same in Clarity and in protocol/sip018 (stacks.js)', () => {
    expect(chainId()).toBe(CHAIN_ID.testnet);
    for (const taskId of [0n, 1n, 42n, 2n ** 64n]) {
      const r = { escrow: escrowId, taskId, inputHash: hash(`in${taskId}`), outputHash: hash(`out${taskId}`) };
      const clarity = simnet.callReadOnlyFn(escrowId, 'task-result-hash', [Cl.uint(taskId), Cl.bufferFromHex(r.inputHash), Cl.bufferFromHex(r.outputHash)], deployer).result;
      expect(clarity).toStrictEqual(Cl.bufferFromHex(structuredDataHash(taskResultMessageCV(r), domainCV(TASK_RESULT_DOMAIN, chainId()))));
    }
  });
});
