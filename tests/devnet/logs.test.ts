/**
 * The devnet's `/extended/v2/smart-contracts/{id}/logs`, paged by cursor as the Stacks API pages
 * it (newest first, `next_cursor` the top of the page above, `prev_cursor` of the page below, 404
 * for a cursor with nothing at or below it), and the signer's reader over it when its event vanished.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createClient } from '@stacks/blockchain-api-client';
import { Store } from '../../devnet/store.js';
import type { Devnet } from '../../devnet/index.js';
import { StacksApiChain } from '../../signer/chain/stacks-api.js';
import { tempDevnet, deployModel, call, keyOf, taskArgs, getJson, ESCROW } from './helpers.js';

let devnet: Devnet;
let cleanup: () => Promise<void>;
const logs = (query: string) => getJson(devnet, `/extended/v2/smart-contracts/${ESCROW}/logs?${query}`);
const repr = (page: { results: { contract_log: { value: { repr: string } } }[] }) =>
  page.results.map((r) => Number(/\(task-id u(\d+)\)/.exec(r.contract_log.value.repr)![1]));

beforeAll(async () => {
  ({ devnet, cleanup } = await tempDevnet());
  const output = await deployModel(devnet, 'logs-model', 100);
  for (let i = 0; i < 7; i++) {
    const { res } = await call(
      devnet,
      keyOf(devnet, 'wallet_2'),
      ESCROW,
      'submit-task',
      taskArgs(output, 100),
      BigInt(i),
    );
    if ('reason' in res) throw new Error(JSON.stringify(res));
  }
  await devnet.idle();
}, 120_000);
afterAll(async () => cleanup?.());

describe('contract logs by cursor', () => {
  it('pages newest first and links each page to the pages above and below', async () => {
    const top = await logs('limit=3');
    expect(repr(top)).toEqual([7, 6, 5]);
    expect(top).toMatchObject({
      limit: 3,
      offset: 0,
      total: 7,
      next_cursor: null,
      cursor: expect.stringMatching(/^\d+:2147483647:0:\d+$/),
    });
    const below = await logs(`limit=3&cursor=${top.prev_cursor}`);
    expect(repr(below)).toEqual([4, 3, 2]);
    expect(below.next_cursor).toBe(top.cursor);
    expect(below.cursor).toBe(top.prev_cursor);
    const last = await logs(`limit=3&cursor=${below.prev_cursor}`);
    expect(repr(last)).toEqual([1]);
    expect(last.prev_cursor).toBeNull();
    expect(repr(await logs(`limit=2&offset=1&cursor=${top.cursor}`))).toEqual([6, 5]);
    // The blockchain-api-client's typed path reaches the same route.
    const api = createClient({ baseUrl: devnet.url });
    const { data } = await api.GET('/extended/v2/smart-contracts/{contract_id}/logs', {
      params: { path: { contract_id: ESCROW }, query: { limit: 1 } },
    });
    expect(data?.cursor).toBe(top.cursor);
  });

  it('answers 404 below the first event and 400 with what to send for bad parameters', async () => {
    const res = await fetch(`${devnet.url}/extended/v2/smart-contracts/${ESCROW}/logs?cursor=1:2147483647:0:0`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'Cursor not found' });
    for (const [query, message] of [
      ['limit=101', /limit must be an integer from 1 to 100/],
      ['offset=-1', /offset must be/],
      ['cursor=abc', /block_height:microblock_sequence/],
    ] as const) {
      const r = await fetch(`${devnet.url}/extended/v2/smart-contracts/${ESCROW}/logs?${query}`);
      expect(r.status).toBe(400);
      expect((await r.json()).error).toMatch(message);
    }
  });

  it("reads again from the block below when its cursor's event is gone (a reorganization)", async () => {
    const chain = new StacksApiChain({
      apiUrl: devnet.url,
      network: 'devnet',
      escrowContract: ESCROW,
      privateKey: keyOf(devnet, 'deployer'),
    });
    const all = await chain.readTaskEvents(null, 1000);
    expect(all.events.map((e) => Number(e.chainTaskId))).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(all.more).toBe(false);
    const mark = JSON.parse(all.cursor!) as { at: string };
    const fifth = all.events[4];
    // Task 5's position, claimed by an event nobody printed: everything from task 5's block on is new.
    const at = `${fifth.blockHeight}:2147483647:0:${fifth.eventIndex}`;
    const lost = JSON.stringify({ ...mark, at, tx: `0x${'00'.repeat(32)}`, next: null });
    expect((await chain.readTaskEvents(lost, 1000)).events.map((e) => Number(e.chainTaskId))).toEqual([5, 6, 7]);
    // Nothing new after the real cursor: one one-event probe, the same cursor back.
    expect(await chain.readTaskEvents(all.cursor, 1000)).toEqual({ events: [], cursor: all.cursor, more: false });
  });

  it("gives the logs of a log written before they carried positions their transaction's, on open", () => {
    const dir = mkdtempSync(join(tmpdir(), 'devnet-store-'));
    try {
      const old = new Database(join(dir, 'devnet.db'));
      old.exec(`CREATE TABLE txs (seq INTEGER PRIMARY KEY AUTOINCREMENT, txid TEXT NOT NULL UNIQUE, raw BLOB NOT NULL,
        origin TEXT NOT NULL, nonce INTEGER NOT NULL, fee TEXT NOT NULL, status TEXT NOT NULL, block_height INTEGER,
        tx_index INTEGER, result_hex TEXT, vm_error TEXT, skip TEXT, events TEXT, receipt_time INTEGER NOT NULL);
      CREATE TABLE contract_logs (id INTEGER PRIMARY KEY AUTOINCREMENT, contract_id TEXT NOT NULL, txid TEXT NOT NULL,
        event_index INTEGER NOT NULL, topic TEXT NOT NULL, value_hex TEXT NOT NULL, value_repr TEXT NOT NULL);
      INSERT INTO txs (txid, raw, origin, nonce, fee, status, block_height, tx_index, receipt_time)
        VALUES ('aa', x'00', 'ST1', 0, '1', 'success', 12, 3, 0);
      INSERT INTO contract_logs (contract_id, txid, event_index, topic, value_hex, value_repr)
        VALUES ('${ESCROW}', 'aa', 1, 'print', '0x00', 'u0');`);
      old.close();
      const store = new Store(dir);
      const page = store.logPage(ESCROW, [Number.MAX_SAFE_INTEGER, 0, 0], 10, 0);
      expect(page.results).toMatchObject([{ txid: 'aa', block_height: 12, tx_index: 3, event_index: 1 }]);
      store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
