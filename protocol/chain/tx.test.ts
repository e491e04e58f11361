/** Following transactions: the (err uN) parser, the API record's states, and the poller's stops. */
import { describe, it, expect } from 'vitest';
import {
  chainIdOf,
  contractErrorCode,
  isPrivateKey,
  pollTx,
  stacksNetworkOf,
  txStateOf,
  type TxState,
} from './index.js';

describe('transactions', () => {
  it('reads the contract error code of an aborted call', () => {
    expect(contractErrorCode('(err u1003)')).toBe(1003);
    expect(contractErrorCode('abort_by_response: (err u2011)')).toBe(2011);
    expect(contractErrorCode('(ok true)')).toBeNull();
    expect(contractErrorCode(undefined)).toBeNull();
  });

  it('turns the API record into a state', () => {
    expect(txStateOf({ tx_status: 'pending' })).toEqual({ status: 'pending' });
    expect(txStateOf({ tx_status: 'success', block_height: 7, tx_result: { hex: '0x03', repr: 'true' } })).toEqual({
      status: 'success',
      blockHeight: 7,
      resultHex: '0x03',
    });
    expect(
      txStateOf({ tx_status: 'abort_by_response', block_height: 8, tx_result: { hex: '0x08', repr: '(err u1003)' } }),
    ).toEqual({
      status: 'aborted',
      blockHeight: 8,
      reason: 'abort_by_response',
      detail: '(err u1003)',
      code: 1003,
    });
    expect(txStateOf({ tx_status: 'dropped_stale_garbage_collect' })).toEqual({
      status: 'dropped',
      reason: 'dropped_stale_garbage_collect',
    });
  });

  it('polls until a final state, ticking while pending, or gives up with null', async () => {
    const states: TxState[] = [{ status: 'not_found' }, { status: 'pending' }, { status: 'success', blockHeight: 3 }];
    const ticks: number[] = [];
    expect(
      await pollTx(async () => states.shift()!, { timeoutMs: 5_000, pollMs: 1, onTick: (s) => ticks.push(s) }),
    ).toEqual({ status: 'success', blockHeight: 3 });
    expect(ticks).toHaveLength(2);
    expect(
      await pollTx(async (): Promise<TxState> => ({ status: 'pending' }), { timeoutMs: 20, pollMs: 5 }),
    ).toBeNull();
  });
});

describe('networks and keys', () => {
  it('maps a network name to its chain id and stacks.js network (the devnet is testnet)', () => {
    expect([chainIdOf('mainnet'), chainIdOf('testnet'), chainIdOf('devnet')]).toEqual([1, 0x80000000, 0x80000000]);
    expect([stacksNetworkOf('mainnet'), stacksNetworkOf('devnet')]).toEqual(['mainnet', 'testnet']);
  });

  it('accepts a 64-hex key, optionally ending in 01, and nothing else', () => {
    expect(isPrivateKey('ab'.repeat(32))).toBe(true);
    expect(isPrivateKey(`${'AB'.repeat(32)}01`)).toBe(true);
    expect(isPrivateKey(`${'ab'.repeat(32)}02`)).toBe(false);
    expect(isPrivateKey('ab'.repeat(31))).toBe(false);
  });
});
