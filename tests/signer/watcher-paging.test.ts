/**
 * The watcher on a long chain: a fresh signer catches up on a backlog of 2,100 task events through
 * a proxy that counts the devnet's event requests. Each page is read once, every event is
 * ingested once and in order, and events appended while it scans are not lost.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Devnet } from '../../devnet/index.js';
import { StacksApiChain } from '../../signer/chain/stacks-api.js';
import { pollEvents, readCursor } from '../../signer/chain/watcher.js';
import { tempDevnet, deployModel, burst, keyOf, ESCROW } from '../devnet/helpers.js';
import { makeSigner, type TestSigner } from './helpers.js';

const BACKLOG_PER_ACCOUNT = 210; // 10 accounts: 2,100 tasks
const DURING_SCAN_PER_ACCOUNT = 15; // 150 more, sent while the watcher is half way
const PAGE = 100; // the API's largest page of contract logs, which the reader asks for
const EVENT_PATHS = /^\/extended\/(v2\/smart-contracts\/[^/]+\/logs|v1\/contract\/[^/]+\/events)$/;

let devnet: Devnet;
let cleanup: () => Promise<void>;
let signer: TestSigner;
let proxy: ReturnType<typeof serve>;
let proxyUrl: string;
/** Every event request the devnet answered: limit and cursor, in order. */
const requests: { limit: number; cursor: string | null }[] = [];
let onPage: ((n: number) => Promise<void>) | null = null;

beforeAll(async () => {
  // Blocks of several transactions: pages then start and end inside blocks.
  ({ devnet, cleanup } = await tempDevnet({ blockTimeMs: 50 }));
  signer = makeSigner();
  proxy = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve(
      {
        port: 0,
        hostname: '127.0.0.1',
        fetch: async (req) => {
          const url = new URL(req.url);
          // Either way of reading a contract's events counts: the v2 cursor pages and the v1 offset pages.
          if (EVENT_PATHS.test(url.pathname)) {
            requests.push({ limit: Number(url.searchParams.get('limit')), cursor: url.searchParams.get('cursor') });
            const full = requests.filter((r) => r.limit === PAGE).length;
            if (onPage && url.searchParams.get('limit') === String(PAGE)) await onPage(full);
          }
          const res = await fetch(`${devnet.url}${url.pathname}${url.search}`, {
            method: req.method,
            headers: req.headers,
            body: req.method === 'GET' ? undefined : await req.arrayBuffer(),
          });
          return new Response(await res.arrayBuffer(), { status: res.status, headers: res.headers });
        },
      },
      () => resolve(s),
    );
  });
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  await new Promise<void>((resolve) => proxy?.close(() => resolve()));
  signer?.close();
  await cleanup?.();
});

describe('the watcher on a backlog of 2,100 events', () => {
  it('reads each page once, ingests every task once and in order, and keeps the ones sent mid-scan', async () => {
    const output = await deployModel(devnet, 'paging-model', 100);
    const keys = devnet.accounts
      .filter((a) => a.secretKey)
      .slice(0, 10)
      .map((a) => a.secretKey!);
    await burst({ url: () => devnet.url, keys, perAccount: BACKLOG_PER_ACCOUNT, modelOutput: output });
    await devnet.idle();
    const backlog = keys.length * BACKLOG_PER_ACCOUNT;
    const total = backlog + keys.length * DURING_SCAN_PER_ACCOUNT;

    // Half way through the backlog, more tasks land on chain before the page is answered.
    onPage = async (n) => {
      if (n !== 10) return;
      onPage = null;
      await burst({ url: () => devnet.url, keys, perAccount: DURING_SCAN_PER_ACCOUNT, modelOutput: output });
      await devnet.idle();
    };
    const chain = new StacksApiChain({
      apiUrl: proxyUrl,
      network: 'devnet',
      escrowContract: ESCROW,
      privateKey: keyOf(devnet, 'deployer'),
    });
    const handedOut: bigint[] = [];
    const read = chain.readTaskEvents.bind(chain);
    chain.readTaskEvents = async (cursor, limit) => {
      const r = await read(cursor, limit);
      handedOut.push(...r.events.map((e) => e.chainTaskId));
      return r;
    };
    expect(await pollEvents(signer.s, chain)).toBe(total);

    // Every task once, in chain order (ids are given in submission order).
    expect(handedOut).toEqual(Array.from({ length: total }, (_, i) => BigInt(i + 1)));
    const ids = signer.s.store.sqlite.prepare('select chain_task_id from inference_tasks order by rowid').pluck().all();
    expect(ids).toEqual(Array.from({ length: total }, (_, i) => String(i + 1)));

    // Each full page once: no cursor asked for twice, and about one request per 100 events.
    const pages = requests.filter((r) => r.limit === PAGE);
    expect(new Set(pages.map((p) => p.cursor)).size).toBe(pages.length);
    expect(pages.length).toBeLessThanOrEqual(Math.ceil(total / PAGE) + 3);
    // One-event probes: the bisection for the first block, and a look at the newest event.
    const tip = (await (await fetch(`${devnet.url}/v2/info`)).json()) as { stacks_tip_height: number };
    expect(requests.filter((r) => r.limit === 1).length).toBeLessThanOrEqual(
      Math.ceil(Math.log2(tip.stacks_tip_height)) + 4,
    );
    // In all: linear in the backlog (an offset reader walking back to its cursor on each call made hundreds).
    expect(requests.length).toBeLessThanOrEqual(
      Math.ceil(total / PAGE) + Math.ceil(Math.log2(tip.stacks_tip_height)) + 8,
    );

    // Caught up: the next poll is one one-event probe and finds nothing.
    requests.length = 0;
    const cursor = readCursor(signer.s).cursor;
    expect(await pollEvents(signer.s, chain)).toBe(0);
    expect(requests).toEqual([{ limit: 1, cursor: null }]);
    expect(readCursor(signer.s).cursor).toBe(cursor);
  }, 600_000);
});
