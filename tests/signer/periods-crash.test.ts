/**
 * The period loop killed with SIGKILL: the signer runs as a real child process against a devnet
 * and dies right after recording a settle-accounts (before broadcast), then right after
 * broadcasting it (before marking it sent). After each restart the same transaction is sent or
 * found, confirmed once, and the receipts, tasks and payees end settled exactly once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cl, fetchCallReadOnlyFunction } from '@stacks/transactions';
import { amountArgs, decodePayee } from '../../protocol/contracts/index.js';
import { createServices, openDatabase, resolveConfig } from '../../signer/index.js';
import { ensureSettler, fundAddress } from '../../scripts/lib/funding.js';
import { call, mined } from '../devnet/helpers.js';
import { chainFixture, ESCROW, until, type ChainFixture } from './devnet-fixture.js';
import { MARKET, TestAccount } from './prepaid-fixture.js';

const PAYEES = {
  node: 'ST2CY5V39NHDPWSXMW9QDT3HC3GD6Q6XX4CFRK9AG',
  owner: 'ST2JHG361ZXG51QTKY2NQCVBPPRRE2KZB1HR05NNC',
  treasury: 'ST2NEB84ASENDXKYGJPQW86YXQCEFEX2ZQPG87ND',
};

let fx: ChainFixture;
let dir: string;
let child: { proc: ChildProcess; exited: Promise<NodeJS.Signals | null> } | null = null;
const account = new TestAccount();
const dbPath = () => join(dir, 'signer.db');

beforeAll(async () => {
  fx = await chainFixture();
  await ensureSettler(fx.devnet.url, fx.signerKey, fx.signerKey);
  await fundAddress(fx.devnet.url, account.address, 2_000_000n);
  const { res } = await call(fx.devnet, account.key, MARKET, 'deposit', amountArgs(1_000_000n));
  if ('reason' in res) throw new Error(res.reason);
  await mined(fx.devnet.url, res.txid);
  dir = mkdtempSync(join(tmpdir(), 'periods-crash-'));
  writeFileSync(
    join(dir, 'signer.toml'),
    `[server]\nport = 0\n[database]\npath = "${dbPath()}"\n[chain]\npoll_interval_ms = 100\n[submitter]\nconfirm_poll_ms = 100\ndrop_after_ms = 1000\n[accounts]\nperiod_ms = 3600000\nperiod_amount_ustx = 1000\n`,
  );
}, 120_000);
afterAll(async () => {
  if (child) await kill();
  await fx?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Pays `n` receipts of the account in the signer's database while the signer is down. */
function payWhileDown(n: number): string[] {
  const store = openDatabase(dbPath());
  const config = resolveConfig({ database: { path: dbPath() }, log: { level: 'silent' } });
  const s = createServices({ config, store, log: pino({ level: 'silent' }), escrow: ESCROW });
  try {
    account.open(s, 0n);
    return account.pay(s, n, 1000n, PAYEES);
  } finally {
    void s.verifier.close();
    store.close();
  }
}

async function start(failpoint?: 'period-after-record' | 'after-broadcast'): Promise<void> {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', 'signer/cli.ts', 'run', '--config', join(dir, 'signer.toml')],
    {
      env: {
        ...process.env,
        SIGNER_CHAIN_ENABLED: 'true',
        SIGNER_CHAIN_API: fx.devnet.url,
        SIGNER_NETWORK: 'devnet',
        SIGNER_ESCROW: ESCROW,
        SIGNER_PRIVATE_KEY: fx.signerKey,
        SIGNER_LOG_LEVEL: 'warn',
        SIGNER_FAILPOINT: failpoint ?? '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.once('exit', (_code, signal) => resolve(signal)));
  proc.stdout!.resume();
  proc.stderr!.resume();
  child = { proc, exited };
}

async function kill(): Promise<void> {
  child!.proc.kill('SIGKILL');
  await child!.exited;
  child = null;
}

/** Reads the signer's database (read-only, a fresh connection each time). */
function query<T>(sql: string, ...args: unknown[]): T[] {
  const store = openDatabase(dbPath());
  try {
    return store.sqlite.prepare(sql).all(...args) as T[];
  } finally {
    store.close();
  }
}
const credited = async (who: string) =>
  decodePayee(
    await fetchCallReadOnlyFunction({
      contractAddress: MARKET.split('.')[0]!,
      contractName: 'accounts',
      functionName: 'get-payee',
      functionArgs: [Cl.principal(who)],
      senderAddress: MARKET.split('.')[0]!,
      network: 'testnet',
      client: { baseUrl: fx.devnet.url },
    }),
  )?.credited ?? 0n;

describe('period loop killed with SIGKILL', () => {
  it('after recording settle-accounts (before broadcast): the same transaction is sent on restart and confirmed once', async () => {
    const ids = payWhileDown(3);
    await start('period-after-record');
    expect(await child!.exited).toBe('SIGKILL');
    child = null;
    const recorded = query<{ txid: string; status: string }>(
      "select txid, status from settlements where kind = 'settle-accounts'",
    );
    expect(recorded).toEqual([{ txid: expect.any(String), status: 'built' }]);
    expect(query('select status, txid from prepaid_periods')).toEqual([{ status: 'built', txid: recorded[0]!.txid }]);
    expect(query('select distinct period_id from prepaid_receipts')).toEqual([{ period_id: 1 }]);
    await start();
    await until(
      'period confirmed',
      () => query<{ status: string }>('select status from prepaid_periods')[0]?.status === 'confirmed',
      60_000,
    );
    await kill();
    expect(query("select txid, status from settlements where kind = 'settle-accounts'")).toEqual([
      { txid: recorded[0]!.txid, status: 'confirmed' },
    ]);
    expect(
      query(`select status from inference_tasks where task_id in (${ids.map(() => '?').join(',')})`, ...ids),
    ).toEqual(ids.map(() => ({ status: 'settled' })));
    expect(await credited(PAYEES.node)).toBe(2400n);
  }, 120_000);

  it('after broadcasting (before marking it sent): found on chain on restart, not sent twice', async () => {
    payWhileDown(2);
    await start('after-broadcast');
    expect(await child!.exited).toBe('SIGKILL');
    child = null;
    const [row] = query<{ txid: string; status: string }>(
      "select txid, status from settlements where kind = 'settle-accounts' and status <> 'confirmed'",
    );
    expect(row).toMatchObject({ status: 'built' });
    await start();
    await until(
      'second period confirmed',
      () => query<{ status: string }>('select status from prepaid_periods where id = 2')[0]?.status === 'confirmed',
      60_000,
    );
    await kill();
    expect(query("select status from settlements where kind = 'settle-accounts'")).toEqual([
      { status: 'confirmed' },
      { status: 'confirmed' },
    ]);
    expect(query("select count(*) n from prepaid_receipts where status <> 'settled'")).toEqual([{ n: 0 }]);
    // 5 receipts of 1,000: the node's 80 % credited once, however many restarts.
    expect(await credited(PAYEES.node)).toBe(4000n);
    expect(
      query("select task_id, count(*) n from task_events where to_status = 'settled' group by task_id having n <> 1"),
    ).toEqual([]);
  }, 120_000);
});
