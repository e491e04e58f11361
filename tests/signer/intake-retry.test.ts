/**
 * Prepaid intake (signer/accounts/intake.ts `admit`) when its transaction runs again (issue 15): on
 * PostgreSQL another replica's write to an account this batch reserves from makes the batch's write a
 * serialization failure, and `atomic` runs the whole body again. The second run must start from what
 * it reads then, not from the first run's reservations. The chain reads are stubbed (signatures
 * verified, one live model output, the escrow's terms); tests/signer/prepaid-intake.test.ts runs the
 * real ones on a devnet. The race needs two connections writing at once, so PostgreSQL only.
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { principalOfKey, publicKeyOf, signTaskRequest, toTaskRequestJson } from '../../protocol/accounts/index.js';
import { randomPrivateKey } from '@stacks/transactions';
import { accountRow, type PrepaidAccounts } from '../../signer/accounts/index.js';
import { admit } from '../../signer/accounts/intake.js';
import { inputBlobs, prepaidAccounts, type SignerDatabase } from '../../signer/db/index.js';
import { PolicyGuard } from '../../signer/guard/index.js';
import { resolveConfig } from '../../signer/index.js';
import { ARTIFACT_A, twoConnections } from './helpers.js';

const CHAIN_ID = 0x80000000;
const MARKET = 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.accounts';
const OWNER = 'ST2CY5V39NHDPWSXMW9QDT3HC3GD6Q6XX4CFRK9AG';

let one: SignerDatabase;
let two: SignerDatabase;
let close: () => void;
beforeEach(() => {
  ({ one, two, close } = twoConnections('intake-retry-'));
});
afterEach(() => close());

/** The intake's dependencies on `store`, the chain's answers stubbed; `onWrite` runs as each accepted item is written. */
function intake(store: SignerDatabase, onWrite: () => void): PrepaidAccounts {
  const config = resolveConfig({});
  return {
    market: MARKET,
    chainId: CHAIN_ID,
    store,
    cfg: config.accounts,
    guard: new PolicyGuard(config.guard),
    // Read while an accepted item's task row is written, after its account was read.
    get maxInferTimeMs() {
      onWrite();
      return 60_000;
    },
    verifyMany: async (checks: unknown[]) => checks.map(() => true),
    view: {
      output: async (id: bigint) => ({
        outputId: id,
        model: 'mnist',
        owner: OWNER,
        artifactHash: ARTIFACT_A,
        format: 'onnx',
        version: 1n,
        price: 1_000n,
        uri: '',
        precision: 0,
        parent: null,
        spent: false,
      }),
      terms: async () => ({ ownerBps: 1_500n, treasuryBps: 500n, treasury: OWNER, sampleBps: 0 }),
    },
    pricing: { price: (_account: string, floor: bigint) => floor, quoteProblem: () => null },
    freshAccount: async () => undefined,
    notify: () => undefined,
  } as unknown as PrepaidAccounts;
}

/** A funded account and a signed request of it, with its input inline. */
function funded(store: SignerDatabase) {
  const key = randomPrivateKey();
  const account = principalOfKey(publicKeyOf(key), CHAIN_ID);
  store.db
    .insert(prepaidAccounts)
    .values({ account, public_key: publicKeyOf(key), balance: '100000', read_at: Date.now(), updated_at: Date.now() })
    .run();
  const input = Buffer.from('{"inputs":[]}');
  const request = {
    account,
    market: MARKET,
    modelOutput: 1n,
    inputHash: createHash('sha256').update(input).digest('hex'),
    maxFee: 5_000n,
    expiry: BigInt(Math.floor(Date.now() / 1000) + 600),
    security: 1n,
    nonce: 1n,
  };
  const item = {
    request: toTaskRequestJson(request),
    signature: signTaskRequest(request, CHAIN_ID, key),
    public_key: publicKeyOf(key),
    input_base64: input.toString('base64'),
  };
  return { account, request, item };
}

describe('a prepaid batch whose transaction runs again', () => {
  it('reserves each accepted request once, and stores its inline input', async () => {
    const { account, request, item } = funded(one);
    let writes = 0;
    // Another replica changes the account row once this batch has read it (first run only): the
    // batch's reservation write then fails to serialize and the batch runs again.
    const pa = intake(one, () => {
      if (++writes === 1)
        two.sqlite.prepare('update prepaid_accounts set updated_at = updated_at + 1 where account = ?').run(account);
    });
    const out = await admit(pa, [item]);
    expect(writes).toBe(2);
    expect(out).toEqual([expect.objectContaining({ status: 'accepted' })]);
    expect(accountRow(one, account)!.reserved).toBe('5000');
    expect(
      one.db
        .select()
        .from(inputBlobs)
        .all()
        .map((b) => b.sha256),
    ).toEqual([request.inputHash]);
  });

  it('a request with a nonce another replica takes at the same moment is refused as nonce_used, not a 500', async () => {
    const { account, item } = funded(one);
    let writes = 0;
    const pa = intake(one, () => {
      if (++writes === 1)
        two.sqlite
          .prepare(
            "insert into prepaid_receipts (task_id, account, nonce, request, request_signature, max_fee, status, created_at) values ('other', ?, '1', '{}', '', '5000', 'running', 0)",
          )
          .run(account);
    });
    const out = await admit(pa, [item]);
    expect(out).toEqual([expect.objectContaining({ success: false, code: 'nonce_used' })]);
    expect(accountRow(one, account)!.reserved).toBe('0');
  });
});
