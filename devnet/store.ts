/**
 * The devnet's durable log (better-sqlite3, WAL): every accepted transaction (raw bytes), every
 * mined block, and what each transaction did. The chain state itself lives in simnet memory and is
 * rebuilt from this log on start.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** A transaction as logged; `status` is `pending` until it is mined or dropped. */
export interface TxRow {
  seq: number;
  txid: string;
  raw: Buffer;
  origin: string;
  nonce: number;
  fee: string;
  status: string;
  block_height: number | null;
  tx_index: number | null;
  result_hex: string | null;
  vm_error: string | null;
  skip: string | null;
  events: string | null;
  receipt_time: number;
}

export interface BlockRow {
  height: number;
  hash: string;
  parent_hash: string;
  time: number;
  tx_count: number;
}

/** A print event of one contract, in API order. */
export interface LogRow {
  id: number;
  contract_id: string;
  txid: string;
  block_height: number;
  tx_index: number;
  event_index: number;
  topic: string;
  value_hex: string;
  value_repr: string;
}

/** What a mined transaction did, as written with its block. */
export interface MinedTx {
  txid: string;
  status: string;
  txIndex: number;
  resultHex: string;
  vmError: string | null;
  skip: string | null;
  events: unknown[];
  logs: { contractId: string; eventIndex: number; topic: string; hex: string; repr: string }[];
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (height INTEGER PRIMARY KEY, hash TEXT NOT NULL, parent_hash TEXT NOT NULL, time INTEGER NOT NULL, tx_count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS txs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, txid TEXT NOT NULL UNIQUE, raw BLOB NOT NULL, origin TEXT NOT NULL,
  nonce INTEGER NOT NULL, fee TEXT NOT NULL, status TEXT NOT NULL, block_height INTEGER, tx_index INTEGER,
  result_hex TEXT, vm_error TEXT, skip TEXT, events TEXT, receipt_time INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS txs_block ON txs (block_height, tx_index);
CREATE INDEX IF NOT EXISTS txs_origin ON txs (origin, status, nonce);
CREATE TABLE IF NOT EXISTS contract_logs (
  id INTEGER PRIMARY KEY AUTOINCREMENT, contract_id TEXT NOT NULL, txid TEXT NOT NULL, event_index INTEGER NOT NULL,
  topic TEXT NOT NULL, value_hex TEXT NOT NULL, value_repr TEXT NOT NULL, block_height INTEGER, tx_index INTEGER);
CREATE INDEX IF NOT EXISTS logs_contract ON contract_logs (contract_id, id);
`;

/** Logs written before they carried their position get it from their transaction, once. */
const LOG_POSITIONS = `
UPDATE contract_logs SET block_height = (SELECT block_height FROM txs WHERE txs.txid = contract_logs.txid),
  tx_index = (SELECT tx_index FROM txs WHERE txs.txid = contract_logs.txid) WHERE block_height IS NULL;
CREATE INDEX IF NOT EXISTS logs_position ON contract_logs (contract_id, block_height, tx_index, event_index);
`;

/** Where an event sits in the chain: block height, transaction index, event index (the API's order). */
export type LogPosition = readonly [number, number, number];

/** A page of a contract's print events, newest first, and the positions the Stacks API's cursors name. */
export interface LogPage {
  results: LogRow[];
  total: number;
  /** Top (newest) event of the page of `limit` events just above this one, if there are that many. */
  next: LogRow | undefined;
  /** Top event of the page just below this one, if there is a full page below. */
  prev: LogRow | undefined;
}

/** The SQLite log. All writes of one block happen in one SQLite transaction. */
export class Store {
  private readonly db: Database.Database;
  private readonly stmts;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.db = new Database(join(dataDir, 'devnet.db'));
    this.db.pragma('journal_mode = WAL');
    // A killed process loses nothing committed in WAL mode with NORMAL; only a power cut could.
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    const columns = this.db.prepare<[], { name: string }>('PRAGMA table_info(contract_logs)').all();
    if (!columns.some((c) => c.name === 'block_height')) {
      this.db.exec(
        'ALTER TABLE contract_logs ADD COLUMN block_height INTEGER; ALTER TABLE contract_logs ADD COLUMN tx_index INTEGER',
      );
    }
    this.db.exec(LOG_POSITIONS);
    const db = this.db;
    this.stmts = {
      getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)'),
      insertTx: db.prepare(
        // A dropped transaction may be sent again, byte for byte: it becomes pending again.
        `INSERT INTO txs (txid, raw, origin, nonce, fee, status, receipt_time) VALUES (?, ?, ?, ?, ?, 'pending', ?)
         ON CONFLICT (txid) DO UPDATE SET status = 'pending', vm_error = NULL, receipt_time = excluded.receipt_time`,
      ),
      getTx: db.prepare<[string], TxRow>('SELECT * FROM txs WHERE txid = ?'),
      pending: db.prepare<[], TxRow>(`SELECT * FROM txs WHERE status = 'pending' ORDER BY seq`),
      mineTx: db.prepare(
        `UPDATE txs SET status = ?, block_height = ?, tx_index = ?, result_hex = ?, vm_error = ?, skip = ?, events = ? WHERE txid = ?`,
      ),
      dropTx: db.prepare(`UPDATE txs SET status = ?, vm_error = ? WHERE txid = ? AND status = 'pending'`),
      insertBlock: db.prepare('INSERT INTO blocks (height, hash, parent_hash, time, tx_count) VALUES (?, ?, ?, ?, ?)'),
      lastBlock: db.prepare<[], BlockRow>('SELECT * FROM blocks ORDER BY height DESC LIMIT 1'),
      block: db.prepare<[number], BlockRow>('SELECT * FROM blocks WHERE height = ?'),
      blockByHash: db.prepare<[string], BlockRow>('SELECT * FROM blocks WHERE hash = ?'),
      blocks: db.prepare<[], BlockRow>('SELECT * FROM blocks ORDER BY height'),
      blockTxs: db.prepare<[number], TxRow>('SELECT * FROM txs WHERE block_height = ? ORDER BY tx_index'),
      insertLog: db.prepare(
        `INSERT INTO contract_logs (contract_id, txid, event_index, topic, value_hex, value_repr, block_height, tx_index)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      logsAtOrBelow: db.prepare<[string, number, number, number, number, number], LogRow>(
        `SELECT * FROM contract_logs WHERE contract_id = ? AND (block_height, tx_index, event_index) <= (?, ?, ?)
         ORDER BY block_height DESC, tx_index DESC, event_index DESC LIMIT ? OFFSET ?`,
      ),
      logAbove: db.prepare<[string, number, number, number, number], LogRow>(
        `SELECT * FROM contract_logs WHERE contract_id = ? AND (block_height, tx_index, event_index) > (?, ?, ?)
         ORDER BY block_height, tx_index, event_index LIMIT 1 OFFSET ?`,
      ),
      logBelow: db.prepare<[string, number, number, number, number], LogRow>(
        `SELECT * FROM contract_logs WHERE contract_id = ? AND (block_height, tx_index, event_index) < (?, ?, ?)
         ORDER BY block_height DESC, tx_index DESC, event_index DESC LIMIT 1 OFFSET ?`,
      ),
      logCount: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM contract_logs WHERE contract_id = ?'),
      logs: db.prepare<[string, number, number], LogRow>(
        'SELECT * FROM contract_logs WHERE contract_id = ? ORDER BY id DESC LIMIT ? OFFSET ?',
      ),
      confirmedNonces: db.prepare<[], { origin: string; n: number }>(
        `SELECT origin, MAX(nonce) + 1 AS n FROM txs WHERE block_height IS NOT NULL GROUP BY origin`,
      ),
    };
  }

  meta(key: string): string | undefined {
    return this.stmts.getMeta.get(key)?.value;
  }

  setMeta(key: string, value: string): void {
    this.stmts.setMeta.run(key, value);
  }

  /** Logs an accepted transaction before the node answers, so an accepted transaction survives a crash. */
  addPending(txid: string, raw: Uint8Array, origin: string, nonce: bigint, fee: bigint, receiptTime: number): void {
    this.stmts.insertTx.run(txid, Buffer.from(raw), origin, Number(nonce), fee.toString(), receiptTime);
  }

  tx(txid: string): TxRow | undefined {
    return this.stmts.getTx.get(txid);
  }

  pending(): TxRow[] {
    return this.stmts.pending.all();
  }

  /** Drops a pending transaction from the mempool with a node-style status (`dropped_...`). */
  drop(txid: string, status: string, reason: string): void {
    this.stmts.dropTx.run(status, reason, txid);
  }

  /** Writes a mined block and its transactions' outcomes atomically. */
  writeBlock(block: BlockRow, txs: MinedTx[]): void {
    this.db.transaction(() => {
      this.stmts.insertBlock.run(block.height, block.hash, block.parent_hash, block.time, block.tx_count);
      for (const t of txs) {
        this.stmts.mineTx.run(
          t.status,
          block.height,
          t.txIndex,
          t.resultHex,
          t.vmError,
          t.skip,
          JSON.stringify(t.events),
          t.txid,
        );
        for (const l of t.logs)
          this.stmts.insertLog.run(l.contractId, t.txid, l.eventIndex, l.topic, l.hex, l.repr, block.height, t.txIndex);
      }
    })();
  }

  lastBlock(): BlockRow | undefined {
    return this.stmts.lastBlock.get();
  }

  block(heightOrHash: number | string): BlockRow | undefined {
    return typeof heightOrHash === 'number'
      ? this.stmts.block.get(heightOrHash)
      : this.stmts.blockByHash.get(heightOrHash);
  }

  /** Every mined block, oldest first (lazy: the log can be long). */
  *blocks(): IterableIterator<BlockRow> {
    yield* this.stmts.blocks.iterate();
  }

  blockTxs(height: number): TxRow[] {
    return this.stmts.blockTxs.all(height);
  }

  /** A contract's print events, newest first, as the API pages them. */
  contractLogs(contractId: string, limit: number, offset: number): LogRow[] {
    return this.stmts.logs.all(contractId, limit, offset);
  }

  /**
   * A page as the Stacks API's `/extended/v2/smart-contracts/{id}/logs` pages (its pg-store-v2
   * query): `limit` events at or below `atOrBelow`, `offset` skipped, newest first, with the pages
   * just above and below located by position.
   */
  logPage(contractId: string, atOrBelow: LogPosition, limit: number, offset: number): LogPage {
    const results = this.stmts.logsAtOrBelow.all(contractId, ...atOrBelow, limit, offset);
    const top = results[0];
    const at = top ? ([top.block_height, top.tx_index, top.event_index] as const) : undefined;
    return {
      results,
      total: this.stmts.logCount.get(contractId)?.n ?? 0,
      next: at && this.stmts.logAbove.get(contractId, ...at, limit - 1),
      prev: at && this.stmts.logBelow.get(contractId, ...at, limit - 1),
    };
  }

  /** Next nonce of every account that has a mined transaction. */
  confirmedNonces(): Map<string, bigint> {
    return new Map(this.stmts.confirmedNonces.all().map((r) => [r.origin, BigInt(r.n)]));
  }

  close(): void {
    this.db.close();
  }
}
