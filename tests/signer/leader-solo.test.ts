/**
 * A single SQLite signer and the leader machinery of issue 15: it leads at once at epoch 1 and
 * runs every loop as before; its settlements carry that epoch; the nonce sequence stays above the
 * nonces open settlements hold; a second open settlement with one nonce is refused, not sent; and
 * a transaction recorded but not sent before a restart is sent as it was, not built again.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { NonceManager } from '../../signer/chain/nonce.js';
import { campaign, isPostgres, type Leader } from '../../signer/cluster/index.js';
import {
  isOpenNonceConflict,
  openNonces,
  refusedWrite,
  submitBatch,
  submitterTick,
} from '../../signer/chain/submitter.js';
import { startLoops } from '../../signer/loops.js';
import { createServices, openDatabase } from '../../signer/index.js';
import { getTask } from '../../signer/tasks/state.js';
import { addTasks, makeSigner, type TestSigner } from './helpers.js';
import { FakeChain, completeTasks, settlementsOf } from './leader-fixture.js';

let t: TestSigner;
beforeEach(() => {
  t = makeSigner();
});
afterEach(() => t.close());

describe('a single SQLite signer', () => {
  it('leads at once, at epoch 1, without a lock (on PostgreSQL a lone replica too, with the lease taken)', () => {
    expect(t.s.leader.isLeader()).toBe(true);
    expect(t.s.leader.epoch).toBe(1);
    const leases = t.s.store.sqlite.prepare('select count(*) n from leader_lease').get() as { n: number };
    expect(Number(leases.n)).toBe(isPostgres(t.s.store) ? 1 : 0);
  });

  it('starts the watcher, the submitter and the sweeper at once, and stops them', async () => {
    const chain = new FakeChain();
    chain.tip = 42;
    const loops = startLoops(t.s, chain);
    // The watcher's first tick reads the tip; the submitter's first tick needs no chain call when idle.
    for (let i = 0; i < 100 && t.s.chain.tipHeight !== 42; i++) await new Promise((r) => setTimeout(r, 10));
    expect(t.s.chain.tipHeight).toBe(42);
    expect(chain.resets).toBe(1);
    await Promise.all(loops.map((l) => l.stop()));
  });

  it('records each settlement with its leader epoch before broadcasting it', async () => {
    const chain = new FakeChain();
    const ids = completeTasks(t, addTasks(t, {}, {}));
    const txid = await submitBatch(t.s, chain, Date.now() + 3_600_000);
    expect(txid).not.toBeNull();
    expect(settlementsOf(t.s)).toMatchObject([{ txid, status: 'broadcast', leader_epoch: 1, nonce: '0' }]);
    for (const id of ids) expect(getTask(t.s.store, id)?.status).toBe('submitted');
  });
});

describe('nonces', () => {
  it('a fresh sequence starts above every nonce an open settlement holds, and fills no gap with one', async () => {
    // The API knows nonces up to 4; settlements with 5 (built, never sent) and 7 are open.
    const nonces = new NonceManager(
      async () => ({ possible_next_nonce: 5, detected_missing_nonces: [3] }),
      () => [5n, 7n],
    );
    expect(await nonces.reserve()).toBe(3n);
    expect(await nonces.reserve()).toBe(6n);
    expect(await nonces.reserve()).toBe(8n);
  });

  it('open settlements are read from the database, of every kind', async () => {
    const chain = new FakeChain();
    completeTasks(t, addTasks(t, {}));
    chain.failBroadcasts = true;
    await submitBatch(t.s, chain, Date.now() + 3_600_000);
    expect(openNonces(t.s)).toEqual([0n]);
  });

  it('a second open settlement with one nonce is refused: nothing recorded, its tasks stay completed', async () => {
    const chain = new FakeChain();
    completeTasks(t, addTasks(t, {}));
    chain.failBroadcasts = true;
    const first = await submitBatch(t.s, chain, Date.now() + 3_600_000);
    const ids = completeTasks(t, addTasks(t, {}));
    // Another leader's sequence: nonce 0 again.
    chain.nextNonce = 0n;
    const err = await submitBatch(t.s, chain, Date.now() + 3_600_000).catch((e: unknown) => e);
    expect(isOpenNonceConflict(err)).toBe(true);
    expect(settlementsOf(t.s).map((r) => r.txid)).toEqual([first]);
    expect(getTask(t.s.store, ids[0]!)).toMatchObject({ status: 'completed', settlement_txid: null });
    // The submitter's steps take it as a refusal: the nonces are read again, nothing is thrown.
    expect(refusedWrite(t.s, chain, err)).toBe(true);
    expect(chain.resets).toBe(1);
    expect(refusedWrite(t.s, chain, new Error('other'))).toBe(false);
  });
});

describe('crash-safety across leaders', () => {
  it('the next leader sends the recorded transaction as it was (same txid, nonce, bytes), and builds none', async () => {
    const chain = new FakeChain();
    completeTasks(t, addTasks(t, {}, {}));
    // Recorded, then the leader died before its broadcast reached the node.
    chain.failBroadcasts = true;
    const txid = await submitBatch(t.s, chain, Date.now() + 3_600_000);
    const [row] = settlementsOf(t.s);
    expect(row).toMatchObject({ txid, status: 'built' });

    // The next leader: the same database, opened again, with a chain adapter of its own (on
    // PostgreSQL the old one's lock is gone first; a SQLite signer is alone anyway).
    t.s.leader.resign();
    const store = openDatabase(t.s.store.sqlite.name);
    const next = createServices({ config: t.s.config, store, log: t.s.log, escrow: t.s.escrow });
    const chain2 = new FakeChain();
    chain2.status = 'not_found';
    try {
      await submitterTick(next, chain2, Date.now() + 3_600_000);
      expect(chain2.built).toBe(0);
      expect(chain2.sent).toEqual([{ txid: row!.txid, raw: row!.raw, nonce: BigInt(row!.nonce) }]);
      expect(settlementsOf(next)).toMatchObject([{ txid, status: 'broadcast' }]);
    } finally {
      await next.verifier.close();
      await next.dashboardTotals.close();
      store.close();
    }
  });
});

/** A leader whose lock the test hands out and takes away. */
class ScriptedLeader implements Leader {
  epoch = 0;
  free = false;
  holds = true;
  resigned = 0;
  isLeader(): boolean {
    return this.epoch > 0;
  }
  tryLead(): boolean {
    if (this.epoch === 0 && this.free) this.epoch = 7;
    return this.epoch > 0;
  }
  stillLeads(): boolean {
    if (!this.holds) this.epoch = 0;
    return this.holds;
  }
  resign(): void {
    this.resigned++;
    this.epoch = 0;
  }
}

describe('the campaign loop (replicas on PostgreSQL)', () => {
  it("runs the leader's work while it leads: started on taking the lead, stopped when the lead is lost, started again, and the lead given up on stop", async () => {
    const leader = new ScriptedLeader();
    const terms: { epoch: number; stopped: boolean }[] = [];
    const loop = campaign(leader, {
      retryMs: 20,
      checkMs: 20,
      log: pino({ level: 'silent' }),
      lead: (epoch) => {
        const term = { epoch, stopped: false };
        terms.push(term);
        return { stop: async () => void (term.stopped = true) };
      },
    });
    const until = async (cond: () => boolean) => {
      for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
      expect(cond()).toBe(true);
    };
    await new Promise((r) => setTimeout(r, 60));
    expect(terms).toEqual([]);
    leader.free = true;
    await until(() => terms.length === 1);
    expect(terms[0]).toEqual({ epoch: 7, stopped: false });
    leader.holds = false;
    await until(() => terms[0]!.stopped);
    expect(leader.isLeader()).toBe(false);
    leader.holds = true;
    await until(() => terms.length === 2);
    await loop.stop();
    expect(terms[1]!.stopped).toBe(true);
    expect(leader.resigned).toBe(1);
  });
});
