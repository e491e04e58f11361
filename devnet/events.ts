/**
 * Turns simnet's events into the Stacks API's event objects, and checks a transaction's
 * post-conditions against them (STX and fungible-token conditions, and deny mode).
 */
import type { ClarityEvent } from '@stacks/clarinet-sdk';
import { type PostCondition, cvToString, deserializeCV } from '@stacks/transactions';

/** An event as `/extended/v1/tx/{txid}` lists it. */
export type ApiEvent = Record<string, unknown> & { event_index: number; event_type: string; tx_id: string };

/** A print event, for the contract's event stream. */
export interface ContractLog {
  contractId: string;
  eventIndex: number;
  topic: string;
  hex: string;
  repr: string;
}

function str(v: unknown): string {
  return typeof v === 'bigint' ? v.toString() : String(v ?? '');
}

function eventValue(data: ClarityEvent['data']): { hex: string; repr: string } {
  const hex = data.raw_value?.startsWith('0x') ? data.raw_value : `0x${data.raw_value ?? ''}`;
  // Node's hex decoder: @stacks/common's (what a hex string would go through) is plain JS and several times slower.
  return { hex, repr: cvToString(deserializeCV(Buffer.from(hex.slice(2), 'hex'))) };
}

/** Maps simnet events of one transaction to API events; prints also become contract logs. */
export function toApiEvents(events: ClarityEvent[], txid: string): { events: ApiEvent[]; logs: ContractLog[] } {
  const out: ApiEvent[] = [];
  const logs: ContractLog[] = [];
  events.forEach((e, i) => {
    const d = e.data;
    const base = { event_index: i, tx_id: txid };
    const kind = e.event.replace(/_event$/, '');
    if (kind === 'print') {
      const value = eventValue(d);
      const contractId = str(d.contract_identifier);
      out.push({
        ...base,
        event_type: 'smart_contract_log',
        contract_log: { contract_id: contractId, topic: str(d.topic || 'print'), value },
      });
      logs.push({ contractId, eventIndex: i, topic: str(d.topic || 'print'), ...value });
    } else if (kind.startsWith('stx_')) {
      out.push({
        ...base,
        event_type: 'stx_asset',
        asset: {
          asset_event_type: kind.slice(4),
          sender: str(d.sender),
          recipient: str(d.recipient),
          amount: str(d.amount),
          memo: str(d.memo),
        },
      });
    } else if (kind.startsWith('ft_')) {
      out.push({
        ...base,
        event_type: 'fungible_token_asset',
        asset: {
          asset_event_type: kind.slice(3),
          asset_id: str(d.asset_identifier),
          sender: str(d.sender),
          recipient: str(d.recipient),
          amount: str(d.amount),
        },
      });
    } else if (kind.startsWith('nft_')) {
      out.push({
        ...base,
        event_type: 'non_fungible_token_asset',
        asset: {
          asset_event_type: kind.slice(4),
          asset_id: str(d.asset_identifier),
          sender: str(d.sender),
          recipient: str(d.recipient),
          value: eventValue(d),
        },
      });
    }
  });
  return { events: out, logs };
}

type Asset = {
  event_type: string;
  asset: { asset_event_type: string; sender: string; amount?: string; asset_id?: string };
};

function sentBy(events: ApiEvent[], who: string, assetId: string | null): bigint {
  let total = 0n;
  for (const e of events as unknown as Asset[]) {
    const isStx = e.event_type === 'stx_asset';
    const matches = assetId === null ? isStx : e.event_type === 'fungible_token_asset' && e.asset.asset_id === assetId;
    if (matches && e.asset.sender === who && e.asset.asset_event_type !== 'mint')
      total += BigInt(e.asset.amount ?? '0');
  }
  return total;
}

function compare(sent: bigint, cond: string, amount: bigint): boolean {
  switch (cond) {
    case 'eq':
      return sent === amount;
    case 'gt':
      return sent > amount;
    case 'gte':
      return sent >= amount;
    case 'lt':
      return sent < amount;
    case 'lte':
      return sent <= amount;
    default:
      return false;
  }
}

/**
 * Returns null when the post-conditions hold, else why not. Non-fungible conditions are not
 * evaluated (the project moves no NFTs); in deny mode any NFT movement is a violation.
 */
export function checkPostConditions(pcs: PostCondition[], mode: 'allow' | 'deny', events: ApiEvent[]): string | null {
  const covered = new Set<string>();
  for (const pc of pcs) {
    if (pc.type === 'nft-postcondition') {
      covered.add(`nft:${pc.address}:${pc.asset}`);
      continue;
    }
    const assetId = pc.type === 'ft-postcondition' ? pc.asset : null;
    covered.add(`${assetId ?? 'stx'}:${pc.address}`);
    const sent = sentBy(events, pc.address, assetId);
    if (!compare(sent, pc.condition, BigInt(pc.amount)))
      return `post-condition violated: ${pc.address} sent ${sent} ${assetId ?? 'micro-STX'}, condition ${pc.condition} ${pc.amount}`;
  }
  if (mode === 'allow') return null;
  for (const e of events as unknown as Asset[]) {
    if (e.asset?.asset_event_type !== 'transfer' && e.asset?.asset_event_type !== 'burn') continue;
    const key =
      e.event_type === 'stx_asset'
        ? `stx:${e.asset.sender}`
        : e.event_type === 'fungible_token_asset'
          ? `${e.asset.asset_id}:${e.asset.sender}`
          : `nft:${e.asset.sender}:${e.asset.asset_id}`;
    if (!covered.has(key))
      return `post-condition violated (deny mode): ${e.asset.sender} moved ${e.event_type.replace('_asset', '')} with no post-condition covering it`;
  }
  return null;
}
