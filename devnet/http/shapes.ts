/**
 * The Stacks API's JSON shapes for transactions and blocks (`/extended/v1/tx/{id}`,
 * `/extended/v2/blocks/{h}`), built from the devnet's log. Field names follow
 * @stacks/blockchain-api-client's generated schema.
 */
import {
  type PostCondition,
  type StacksTransactionWire,
  PayloadType,
  PostConditionMode,
  addressToString,
  cvToString,
  deserializeCV,
  deserializeTransaction,
  serializeCV,
} from '@stacks/transactions';
import type { TxRow, BlockRow } from '../store.js';
import type { ContractAbi } from '../vm.js';
import { abiTypeToString } from '../clarity-check.js';
import { postConditionsOf } from '../admission.js';

const iso = (s: number) => new Date(s * 1000).toISOString();
const with0x = (h: string) => (h.startsWith('0x') ? h : `0x${h}`);

function apiPostCondition(pc: PostCondition): Record<string, unknown> {
  const [address, contractName] = pc.address.split('.');
  const principal = contractName
    ? { type_id: 'principal_contract', address, contract_name: contractName }
    : { type_id: 'principal_standard', address };
  const code = {
    eq: 'sent_equal_to',
    gt: 'sent_greater_than',
    gte: 'sent_greater_than_or_equal_to',
    lt: 'sent_less_than',
    lte: 'sent_less_than_or_equal_to',
  } as Record<string, string>;
  if (pc.type === 'stx-postcondition')
    return { type: 'stx', principal, condition_code: code[pc.condition], amount: String(pc.amount) };
  const [assetContract, assetName] = pc.asset.split('::');
  const [assetAddr, assetContractName] = assetContract.split('.');
  const asset = { asset_name: assetName, contract_address: assetAddr, contract_name: assetContractName };
  if (pc.type === 'ft-postcondition')
    return { type: 'fungible', principal, condition_code: code[pc.condition], amount: String(pc.amount), asset };
  return {
    type: 'non_fungible',
    principal,
    condition_code: pc.condition.replace('-', '_'),
    asset,
    asset_value: { hex: `0x${serializeCV(pc.assetId)}`, repr: cvToString(pc.assetId) },
  };
}

function payloadFields(
  row: TxRow,
  tx: StacksTransactionWire,
  abiOf: (id: string) => ContractAbi | undefined,
): Record<string, unknown> {
  const p = tx.payload;
  switch (p.payloadType) {
    case PayloadType.TokenTransfer:
      return {
        tx_type: 'token_transfer',
        token_transfer: {
          recipient_address: cvToString(p.recipient),
          amount: p.amount.toString(),
          memo: `0x${Buffer.from(p.memo.content).toString('hex')}`,
        },
      };
    case PayloadType.ContractCall: {
      const contractId = `${addressToString(p.contractAddress)}.${p.contractName.content}`;
      const fn = abiOf(contractId)?.functions.find((f) => f.name === p.functionName.content);
      const sig = fn
        ? `(define-public (${fn.name} ${fn.args.map((a) => `(${a.name} ${abiTypeToString(a.type)})`).join(' ')}))`
        : '';
      return {
        tx_type: 'contract_call',
        contract_call: {
          contract_id: contractId,
          function_name: p.functionName.content,
          function_signature: sig,
          function_args: p.functionArgs.map((a, i) => ({
            hex: `0x${serializeCV(a)}`,
            repr: cvToString(a),
            name: fn?.args[i]?.name ?? '',
            type: fn ? abiTypeToString(fn.args[i]?.type) : '',
          })),
        },
      };
    }
    default: {
      const q = p as { contractName: { content: string }; codeBody: { content: string }; clarityVersion?: number };
      return {
        tx_type: 'smart_contract',
        smart_contract: {
          clarity_version: q.clarityVersion ?? null,
          contract_id: `${row.origin}.${q.contractName.content}`,
          source_code: q.codeBody.content,
        },
      };
    }
  }
}

/** The parts of a transaction's API object that never change once built: read again and again while the signer polls. */
interface Fixed {
  /** Everything the raw transaction determines. */
  common: Record<string, unknown>;
  /** Outcome, once mined. */
  mined?: { result: { hex: string; repr: string }; events: unknown[] };
}

/**
 * Builds the API's transaction objects. Decoding a transaction and rendering its arguments and
 * events costs milliseconds for a settlement batch, and clients poll the same few transactions,
 * so the unchanging parts of the most recently read ones are kept.
 */
export class TxShapes {
  private readonly fixed = new Map<string, Fixed>();

  /** `keep`: how many transactions' parts to hold (a 200-item settlement's are a few hundred KB). */
  constructor(
    private readonly abiOf: (id: string) => ContractAbi | undefined,
    private readonly keep = 64,
  ) {}

  /** The API's transaction object: mempool form while pending or dropped, mined form after. */
  txJson(row: TxRow, block: BlockRow | undefined, eventLimit = 96, eventOffset = 0): Record<string, unknown> {
    // A transaction's bytes, and the ABI of a contract it was admitted to call, never change.
    let f = this.fixed.get(row.txid);
    // Deleted and re-inserted: the Map's order is the eviction order, least recently read first.
    if (f) this.fixed.delete(row.txid);
    else f = { common: commonFields(row, this.abiOf) };
    this.fixed.set(row.txid, f);
    if (this.fixed.size > this.keep) this.fixed.delete(this.fixed.keys().next().value!);
    return txJson(f, row, block, eventLimit, eventOffset);
  }
}

function commonFields(row: TxRow, abiOf: (id: string) => ContractAbi | undefined): Record<string, unknown> {
  // The row was admitted, so its bytes decode; the txid and origin are the row's.
  const tx = deserializeTransaction(new Uint8Array(row.raw));
  return {
    tx_id: with0x(row.txid),
    nonce: row.nonce,
    fee_rate: row.fee,
    sender_address: row.origin,
    sponsored: false,
    post_condition_mode: tx.postConditionMode === PostConditionMode.Allow ? 'allow' : 'deny',
    post_conditions: postConditionsOf(tx, row.origin).map(apiPostCondition),
    anchor_mode: 'any',
    ...payloadFields(row, tx, abiOf),
  };
}

function txJson(
  f: Fixed,
  row: TxRow,
  block: BlockRow | undefined,
  eventLimit: number,
  eventOffset: number,
): Record<string, unknown> {
  const { common } = f;
  if (row.block_height === null || !block) {
    return {
      ...common,
      tx_status: row.status,
      receipt_time: row.receipt_time,
      receipt_time_iso: iso(row.receipt_time),
    };
  }
  // A mined transaction's outcome is final.
  f.mined ??= {
    result: row.result_hex
      ? { hex: with0x(row.result_hex), repr: cvToString(deserializeCV(row.result_hex)) }
      : { hex: '0x', repr: '' },
    events: JSON.parse(row.events ?? '[]') as unknown[],
  };
  const { result, events } = f.mined;
  return {
    ...common,
    block_hash: block.hash,
    block_height: block.height,
    block_time: block.time,
    block_time_iso: iso(block.time),
    burn_block_time: block.time,
    burn_block_time_iso: iso(block.time),
    burn_block_height: block.height,
    parent_burn_block_time: block.time,
    parent_burn_block_time_iso: iso(block.time),
    canonical: true,
    tx_index: row.tx_index,
    tx_status: row.status,
    tx_result: result,
    event_count: events.length,
    parent_block_hash: block.parent_hash,
    is_unanchored: false,
    microblock_hash: '0x',
    microblock_sequence: 2147483647,
    microblock_canonical: true,
    execution_cost_read_count: 0,
    execution_cost_read_length: 0,
    execution_cost_runtime: 0,
    execution_cost_write_count: 0,
    execution_cost_write_length: 0,
    vm_error: row.vm_error,
    events: events.slice(eventOffset, eventOffset + eventLimit),
  };
}

/** The API's v2 block object. */
export function blockJson(b: BlockRow): Record<string, unknown> {
  return {
    canonical: true,
    height: b.height,
    hash: b.hash,
    block_time: b.time,
    block_time_iso: iso(b.time),
    tenure_height: b.height,
    index_block_hash: b.hash,
    parent_block_hash: b.parent_hash,
    parent_index_block_hash: b.parent_hash,
    burn_block_time: b.time,
    burn_block_time_iso: iso(b.time),
    burn_block_hash: b.hash,
    burn_block_height: b.height,
    miner_txid: `0x${'0'.repeat(64)}`,
    tx_count: b.tx_count,
    execution_cost_read_count: 0,
    execution_cost_read_length: 0,
    execution_cost_runtime: 0,
    execution_cost_write_count: 0,
    execution_cost_write_length: 0,
  };
}
