import { describe, it, expect } from 'vitest';
import { Cl } from '@stacks/transactions';
import {
  structuredDataHash,
  taskResultMessageCV,
  domainCV,
  encodeTaskResult,
  sha256Hex,
  TASK_RESULT_DOMAIN,
  CHAIN_ID,
} from '../../protocol/index.js';
import { escrowId, deployer, chainId, hash } from './helpers.js';

describe('SIP-018 task-result hash', () => {
  it('is the same in Clarity, in stacks.js and in the hot-path encoder the node and the signer use', () => {
    expect(chainId()).toBe(CHAIN_ID.testnet);
    for (const taskId of [0n, 1n, 42n, 2n ** 64n, 2n ** 100n + 12345n, 2n ** 128n - 1n]) {
      const r = { escrow: escrowId, taskId, inputHash: hash(`in${taskId}`), outputHash: hash(`out${taskId}`) };
      const clarity = simnet.callReadOnlyFn(
        escrowId,
        'task-result-hash',
        [Cl.uint(taskId), Cl.bufferFromHex(r.inputHash), Cl.bufferFromHex(r.outputHash)],
        deployer,
      ).result;
      expect(clarity).toStrictEqual(
        Cl.bufferFromHex(structuredDataHash(taskResultMessageCV(r), domainCV(TASK_RESULT_DOMAIN, chainId()))),
      );
      expect(clarity).toStrictEqual(Cl.bufferFromHex(sha256Hex(encodeTaskResult(r, chainId()))));
    }
  });
});
