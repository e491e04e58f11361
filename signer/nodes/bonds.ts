/**
 * Node bonds as the escrow contract records them (`get-node`): only a key with an active bond is
 * registered and scheduled, because `complete-tasks` pays only bonded, unslashed keys and a stake
 * is what a node loses when caught. The bonds are read from the chain at registration and
 * re-read for every node not offline on a timer (`chain.bond_check_interval_ms`), which also
 * catches what a signer cannot see in its own work: an unbond announced by the operator, a
 * slash submitted by someone else, a withdrawal. Kept in memory: a restarted signer reads them
 * again on its first check, and until then schedules nobody rather than an unknown key.
 */
import { ClarityType, type ClarityValue } from '@stacks/transactions';
import { decodeNodeBond, nodeKeyArgs, type NodeBond } from '../../protocol/index.js';
import { prepared } from '../db/index.js';
import type { Chain } from '../chain/index.js';
import type { Services } from '../services.js';

export type { NodeBond };

/** The smallest stake the contract asks when its config cannot be read: its default, 1 STX. */
export const DEFAULT_MIN_STAKE = 1_000_000n;

/** A key's bond as last read, and when. */
export interface KnownBond {
  /** null: the key has no bond (never bonded, or withdrew). */
  bond: NodeBond | null;
  checkedAt: number;
}

/** `min-stake` of the escrow's `get-config` tuple. */
export function minStakeOf(config: ClarityValue): bigint {
  const v = config.type === ClarityType.Tuple ? config.value['min-stake'] : undefined;
  if (v?.type !== ClarityType.UInt)
    throw new Error('get-config returned no min-stake: is the escrow contract up to date?');
  return BigInt(v.value);
}

/** The bonds of node keys, read through the signer's chain adapter. */
export class NodeBonds {
  private readonly known = new Map<string, KnownBond>();
  /** The contract's minimum stake, read with each refresh; stakes are weighed relative to it. */
  minStake = DEFAULT_MIN_STAKE;

  constructor(private readonly chain: Pick<Chain, 'escrowContract' | 'callReadOnly'>) {}

  private get contract(): string {
    return this.chain.escrowContract.split('.')[1]!;
  }

  /** Reads a key's bond from the chain and remembers it. */
  async refresh(publicKey: string, now = Date.now()): Promise<NodeBond | null> {
    const bond = decodeNodeBond(await this.chain.callReadOnly(this.contract, 'get-node', nodeKeyArgs(publicKey)));
    this.known.set(publicKey, { bond, checkedAt: now });
    return bond;
  }

  /** Reads the contract's minimum stake. */
  async refreshMinStake(): Promise<bigint> {
    this.minStake = minStakeOf(await this.chain.callReadOnly(this.contract, 'get-config', []));
    return this.minStake;
  }

  /** The bond last read for a key (undefined: never read). */
  get(publicKey: string): KnownBond | undefined {
    return this.known.get(publicKey);
  }

  /** True when the key's last read bond is active: it may be given tasks. Unbonding and slashed keys, and keys never read, may not. */
  eligible(publicKey: string): boolean {
    return this.known.get(publicKey)?.bond?.status === 'active';
  }

  /** The active stake of a key in micro-STX (0 when not eligible). */
  stake(publicKey: string): bigint {
    const b = this.known.get(publicKey)?.bond;
    return b?.status === 'active' ? b.stake : 0n;
  }

  /** Forgets a key (tests, and nodes that left). */
  forget(publicKey: string): void {
    this.known.delete(publicKey);
  }
}

/** What a refusal tells the operator to do, by the state of its key's bond. */
export function bondRefusal(publicKey: string, bond: NodeBond | null, minStake: bigint): string {
  if (!bond) {
    return `node key ${publicKey} has no stake bonded in the escrow contract; bond at least ${minStake} micro-STX from the key's own address (node-agent bond, or node-agent run, which bonds when the key holds STX), then register again`;
  }
  if (bond.status === 'unbonding') {
    return `node key ${publicKey} is unbonding (stake withdrawable from block ${bond.withdrawAt}): an unbonding node gets no tasks; withdraw (node-agent withdraw) and bond again (node-agent bond)`;
  }
  return `node key ${publicKey} was slashed and can never bond again; create a new key (node-agent keygen --key NEW_FILE), bond it and register with it`;
}

/**
 * Re-reads the bond of every node that is not offline, and the minimum stake (the `bonds` loop).
 * A read that fails keeps the last state: a key never read stays unscheduled.
 */
export async function refreshBonds(s: Services, now = Date.now()): Promise<void> {
  const bonds = s.bonds;
  if (!bonds) return;
  await bonds.refreshMinStake();
  const nodes = prepared(
    s.store.sqlite,
    "select node_id, public_key from inference_nodes where status != 'offline'",
  ).all() as { node_id: string; public_key: string }[];
  let newlyActive = false;
  for (const n of nodes) {
    const was = bonds.get(n.public_key)?.bond?.status ?? 'none';
    const bond = await bonds.refresh(n.public_key, now);
    const is = bond?.status ?? 'none';
    if (was !== is) {
      if (is === 'active')
        s.log.info({ node_id: n.node_id, stake: String(bond!.stake) }, 'node bond active: the node may get tasks');
      else s.log.warn({ node_id: n.node_id, bond: is }, 'node bond not active: the node gets no more tasks');
      newlyActive ||= is === 'active';
    }
  }
  // Long-polls that found nothing while a bond was unknown (a restarted signer) look again.
  if (newlyActive) s.pending.notify();
}
