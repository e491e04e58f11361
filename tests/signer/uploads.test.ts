/**
 * Who may store input blobs, how many, and for how long (issue 12, attack 6): anyone for a task
 * the chain already has; otherwise only a signed requester, within its cap and the signer's; and
 * the sweep deletes an input once no task needs it (after a grace period), on a real SQLite file.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import Database from 'better-sqlite3';
import pino from 'pino';
import { REQUESTER_AUTH_HEADERS, sha256Hex } from '../../protocol/index.js';
import { startSigner } from '../../signer/index.js';
import { transition } from '../../signer/tasks/index.js';
import { collectInputs } from '../../signer/uploads/index.js';
import {
  addTasks,
  body,
  makeSigner,
  PG_DIALECT,
  testDatabaseLocation,
  TestRequester,
  type TestSigner,
} from './helpers.js';
import { psqlSync } from '../pg/server.js';

let t: TestSigner;
afterEach(() => t?.close());

const input = (n: number | string, pad = 0) =>
  new TextEncoder().encode(
    JSON.stringify({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [n] }], pad: 'p'.repeat(pad) }),
  );
const path = (bytes: Uint8Array) => `/api/v1/inputs/${sha256Hex(bytes)}`;
const put = (bytes: Uint8Array, who?: TestRequester, headers?: Record<string, string>) =>
  t.app.request(path(bytes), {
    method: 'PUT',
    body: new Uint8Array(bytes),
    headers: { 'content-type': 'application/json', ...(headers ?? (who ? who.headers('PUT', path(bytes)) : {})) },
  });
const uploaderOf = (bytes: Uint8Array) =>
  (
    t.s.store.sqlite.prepare('select uploader from input_blobs where sha256 = ?').get(sha256Hex(bytes)) as
      | { uploader: string | null }
      | undefined
  )?.uploader;

describe('PUT /api/v1/inputs/{sha256}', () => {
  it('refuses an anonymous input no task names, with upload_signature_required, and stores nothing', async () => {
    t = makeSigner();
    const bytes = input(1);
    const res = await put(bytes);
    expect(res.status).toBe(401);
    const b = await body(res);
    expect(b.code).toBe('upload_signature_required');
    expect(b.error).toMatch(/sign the upload with the wallet that will submit the task/);
    expect(uploaderOf(bytes)).toBeUndefined();
  });

  it('takes an anonymous input that a task on chain names (the fee pays for it), counted against nobody', async () => {
    t = makeSigner();
    const bytes = input(2);
    addTasks(t, { inputHash: sha256Hex(bytes) });
    expect((await put(bytes)).status).toBe(201);
    expect(uploaderOf(bytes)).toBeNull();
    expect((await put(bytes)).status).toBe(200);
  });

  it('takes a signed input before its task exists, recording its uploader; a bad signature is requester_signature_invalid', async () => {
    t = makeSigner();
    const alice = new TestRequester();
    const bytes = input(3);
    const res = await put(bytes, alice);
    expect(res.status).toBe(201);
    expect((await body(res)).data).toMatchObject({ sha256: sha256Hex(bytes), stored: true });
    expect(uploaderOf(bytes)).toBe(alice.address);
    const other = input(4);
    const forged = { ...alice.headers('PUT', path(other)), [REQUESTER_AUTH_HEADERS.timestamp]: String(Date.now() + 1) };
    const bad = await put(other, undefined, forged);
    expect(bad.status).toBe(401);
    expect((await body(bad)).code).toBe('requester_signature_invalid');
    // The signature covers the path: bytes under another hash are refused before anything is stored.
    expect(
      (
        await t.app.request(path(other), {
          method: 'PUT',
          body: new Uint8Array(input(5)),
          headers: alice.headers('PUT', path(other)),
        })
      ).status,
    ).toBe(400);
  });

  it('caps the inputs no task names per requester (count), and frees a place when a task names one', async () => {
    t = makeSigner({ inputs: { max_unclaimed_per_requester: 2 } });
    const alice = new TestRequester();
    const bob = new TestRequester();
    expect((await put(input(10), alice)).status).toBe(201);
    expect((await put(input(11), alice)).status).toBe(201);
    const over = await put(input(12), alice);
    expect(over.status).toBe(429);
    const b = await body(over);
    expect(b.code).toBe('upload_cap_exceeded');
    expect(b.error).toMatch(/already holds 2 inputs .*at most 2 inputs/);
    expect(uploaderOf(input(12))).toBeUndefined();
    // Another requester has its own cap.
    expect((await put(input(12), bob)).status).toBe(201);
    // A task on chain names one of alice's: it no longer counts.
    addTasks(t, { inputHash: sha256Hex(input(10)) });
    expect((await put(input(13), alice)).status).toBe(201);
  });

  it('caps the bytes per requester and for all requesters together', async () => {
    t = makeSigner({ inputs: { max_unclaimed_bytes_per_requester: 3000, max_unclaimed_bytes: 5000 } });
    const [alice, bob, carol] = [new TestRequester(), new TestRequester(), new TestRequester()];
    expect((await put(input(20, 2000), alice)).status).toBe(201);
    const over = await put(input(21, 2000), alice);
    expect(over.status).toBe(429);
    expect((await body(over)).code).toBe('upload_cap_exceeded');
    expect((await put(input(22, 2000), bob)).status).toBe(201);
    // Keys are free: the signer's own limit holds whoever signs.
    const full = await put(input(23, 2000), carol);
    expect(full.status).toBe(503);
    const b = await body(full);
    expect(b.code).toBe('uploads_full');
    expect(b.error).toMatch(/submit the task first/);
  });
});

describe('the input sweep', () => {
  it('deletes an input no task named in time and one whose tasks ended long enough ago; keeps live ones (on the database itself)', async () => {
    t = makeSigner({ inputs: { unclaimed_ttl_ms: 60_000, retention_ms: 3_600_000 } });
    const alice = new TestRequester();
    const t0 = Date.now();
    const orphan = input(30);
    const settled = input(31);
    const pending = input(32);
    const mixed = input(33);
    const fresh = input(34);
    for (const b of [orphan, settled, pending, mixed]) expect((await put(b, alice)).status).toBe(201);
    const [settledId, , mixedDone] = addTasks(
      t,
      { inputHash: sha256Hex(settled) },
      { inputHash: sha256Hex(pending) },
      { inputHash: sha256Hex(mixed) },
      { inputHash: sha256Hex(mixed) },
    );
    for (const id of [settledId!, mixedDone!]) {
      transition(t.s.store, id, 'in_progress', { reason: 'test lease', now: t0 }, { inference_node_id: 'n' });
      transition(t.s.store, id, 'completed', { reason: 'test result', now: t0 });
      transition(t.s.store, id, 'submitted', { reason: 'test batch', now: t0 });
      transition(t.s.store, id, 'settled', { reason: 'test: confirmed', now: t0 });
    }
    const stored = (b: Uint8Array) => uploaderOf(b) !== undefined;

    // Within both periods nothing goes.
    expect(await collectInputs(t.s, t0 + 30_000)).toEqual({ unclaimed: 0, retired: 0 });
    // Past the unclaimed period: the input no task named goes; one uploaded since stays.
    expect((await put(fresh, alice)).status).toBe(201);
    // (as if uploaded just now, at the end of the hour below)
    t.s.store.sqlite
      .prepare('update input_blobs set created_at = ? where sha256 = ?')
      .run(t0 + 3_590_000, sha256Hex(fresh));
    expect(await collectInputs(t.s, t0 + 120_000)).toEqual({ unclaimed: 1, retired: 0 });
    expect([orphan, settled, pending, mixed, fresh].map(stored)).toEqual([false, true, true, true, true]);
    // Past the retention after settlement: the settled task's input goes; one a pending task needs, or that another task still needs, stays.
    expect(await collectInputs(t.s, t0 + 3_600_001)).toEqual({ unclaimed: 0, retired: 1 });
    expect([settled, pending, mixed, fresh].map(stored)).toEqual([false, true, true, true]);

    // What the signer's file (or PostgreSQL database) holds, read by another connection.
    const sql = 'select sha256 from input_blobs order by sha256';
    let left: string[];
    if (PG_DIALECT) left = psqlSync(t.s.config.database.path, sql).trim().split('\n');
    else {
      const db = new Database(join(t.dir, 'signer.db'), { readonly: true });
      try {
        left = (db.prepare(sql).all() as { sha256: string }[]).map((r) => r.sha256);
      } finally {
        db.close();
      }
    }
    expect(left).toEqual([pending, mixed, fresh].map((b) => sha256Hex(b)).sort());
  });

  it('runs in the signer: a signed upload no task names is gone after inputs.unclaimed_ttl_ms', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'signer-input-sweep-'));
    const signer = await startSigner({
      config: {
        server: { port: 0 },
        database: { path: testDatabaseLocation(dir) },
        inputs: { unclaimed_ttl_ms: 1_000, gc_interval_ms: 100 },
        log: { level: 'silent' },
      },
      chain: null,
      log: pino({ level: 'silent' }),
    });
    try {
      const alice = new TestRequester();
      const bytes = input(40);
      const res = await fetch(signer.url + path(bytes), {
        method: 'PUT',
        body: bytes,
        headers: alice.headers('PUT', path(bytes)),
      });
      expect(res.status).toBe(201);
      const count = () =>
        (signer.services.store.sqlite.prepare('select count(*) as n from input_blobs').get() as { n: number }).n;
      expect(count()).toBe(1);
      await expect.poll(count, { timeout: 5_000, interval: 100 }).toBe(0);
    } finally {
      await signer.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
