/**
 * The dashboard's all-time pass off the event loop (signer/dashboard/all-time.ts): on a real
 * SQLite file a stale poll answers with the last totals at once while a thread remakes them, the
 * next poll gets the new ones, one pass runs at a time, a thread that cannot read leaves the pass
 * inline, and closing the signer stops the thread.
 */
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dashboardSnapshot } from '../../signer/dashboard/index.js';
import { AllTimeTotals } from '../../signer/dashboard/all-time.js';
import { openDatabase, startSigner, type Services } from '../../signer/index.js';
import { insertDirectTask, makeSigner, type TestSigner } from './helpers.js';

const NOW = Date.UTC(2026, 0, 5, 12, 0, 30);
const REFRESH = 30_000;

let seq = 0;
const directTask = (s: Pick<Services, 'store'>) => insertDirectTask(s.store, `t${seq++}`, NOW);

/** This process's open descriptors of the file `path` (each connection holds one). */
function openHandles(path: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false; // closed between the listing and the read
    }
  }).length;
}

describe('all-time totals on a database file', () => {
  let t: TestSigner;
  beforeEach(() => {
    t = makeSigner({ dashboard: { totals_refresh_ms: REFRESH } });
  });
  afterEach(() => t.close());

  it('answers a stale poll at once with the old totals, and a later poll with those the thread made', async () => {
    expect(t.s.dashboardTotals.inline).toBe(false);
    directTask(t.s);
    // The first poll has nothing to show yet: it waits for the first pass.
    const first = (await dashboardSnapshot(t.s, NOW)).tasks;
    expect([first.direct.pending, first.by_source_at]).toEqual([1, NOW]);
    expect(await t.s.dashboardTotals.threads()).toBe(1);
    directTask(t.s);
    const stale = (await dashboardSnapshot(t.s, NOW + REFRESH)).tasks;
    // The live count moved; the split is the old pass's, and the new pass has not been waited for.
    expect([stale.total.pending, stale.direct.pending, stale.by_source_at]).toEqual([2, 1, NOW]);
    await t.s.dashboardTotals.idle();
    const next = (await dashboardSnapshot(t.s, NOW + REFRESH + 3_000)).tasks;
    expect([next.total.pending, next.direct.pending, next.by_source_at]).toEqual([2, 2, NOW + REFRESH]);
    expect(t.s.dashboardTotals.lastPassMs).toBeGreaterThan(0);
  });

  it('runs one pass at a time: polls while it runs neither wait nor start another', async () => {
    directTask(t.s);
    await t.s.dashboardTotals.get(NOW);
    const polls = await Promise.all([1, 2, 3].map((i) => t.s.dashboardTotals.get(NOW + REFRESH + i * 1_000)));
    expect(polls.map((p) => p.at)).toEqual([NOW, NOW, NOW]);
    await t.s.dashboardTotals.idle();
    // The pass the first stale poll started, not one per poll.
    expect((await t.s.dashboardTotals.get(NOW + REFRESH + 4_000)).at).toBe(NOW + REFRESH + 1_000);
  });
});

describe('a thread that cannot read the file', () => {
  it('leaves the pass inline and logs why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'signer-dashboard-totals-'));
    const store = openDatabase(join(dir, 'signer.db'));
    const lines: string[] = [];
    const totals = new AllTimeTotals(store.sqlite, {
      refreshMs: REFRESH,
      log: pino({ level: 'warn' }, { write: (line: string) => lines.push(line) }),
    });
    try {
      directTask({ store });
      // The open connection still reads the unlinked file; the thread's new one finds no file to open.
      rmSync(join(dir, 'signer.db'));
      expect((await totals.get(NOW)).byStatus.direct.pending).toBe(1);
      expect(lines.join('')).toMatch(/totals thread failed; all-time pass made inline/);
    } finally {
      await totals.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('closing the signer', () => {
  it('stops the totals thread and its connection', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'signer-dashboard-totals-'));
    const path = join(dir, 'signer.db');
    const signer = await startSigner({
      config: { server: { port: 0 }, database: { path }, log: { level: 'silent' } },
      chain: null,
      log: pino({ level: 'silent' }),
    });
    try {
      const s = signer.services;
      directTask(s);
      expect((await dashboardSnapshot(s, NOW)).tasks.direct.pending).toBe(1);
      expect(await s.dashboardTotals.threads()).toBe(1);
      // The signer's connection and the thread's read-only one.
      expect(openHandles(path)).toBe(2);
    } finally {
      await signer.close();
    }
    try {
      expect(await signer.services.dashboardTotals.threads()).toBe(0);
      expect(openHandles(path)).toBe(0);
      // A stale poll after the close keeps the last totals and starts no thread again.
      expect((await signer.services.dashboardTotals.get(NOW + 2 * REFRESH)).at).toBe(NOW);
      await signer.services.dashboardTotals.idle();
      expect(await signer.services.dashboardTotals.threads()).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
