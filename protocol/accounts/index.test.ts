import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { CHAIN_ID } from '../sip018/index.js';
import {
  authorizeLeaves,
  EMPTY_ROOT,
  fromLeafJson,
  leafHash,
  merkleProof,
  merkleRoot,
  prepaidTaskId,
  principalOfKey,
  publicKeyOf,
  rootFromProof,
  signTaskRequest,
  spendAuthorizationCV,
  taskRequestCV,
  accountsMessageHash,
  toLeafJson,
  verifyAccountsMessage,
  type ReceiptLeaf,
  type TaskRequest,
} from './index.js';

const chainId = CHAIN_ID.testnet;
const market = 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.accounts';
const key = '7287ba251d44a4d3fd9276c88ce34c5c52a038955511cccaf77e61068649c17801';
const other = 'd655b2523bcd65e34889725c73064feb17ceb796831c0e111ba1a552b0f31b3901';
const node = publicKeyOf(other);
const account = principalOfKey(publicKeyOf(key), chainId);

function request(nonce: number, maxFee = 1000n): TaskRequest {
  return {
    account,
    market,
    modelOutput: 1n,
    inputHash: randomBytes(32).toString('hex'),
    maxFee,
    expiry: 2_000_000_000n,
    security: 1n,
    nonce: BigInt(nonce),
  };
}
function leaf(nonce: number, fee = 600n, signer = key): ReceiptLeaf {
  const r = request(nonce);
  return {
    request: r,
    requestSignature: signTaskRequest(r, chainId, signer),
    node,
    outputHash: randomBytes(32).toString('hex'),
    fee,
  };
}

describe('receipt Merkle tree', () => {
  it('proves every leaf of trees of 1 to 9 leaves into the root, and no leaf into another tree', () => {
    for (let n = 1; n <= 9; n++) {
      const hashes = Array.from({ length: n }, () => randomBytes(32).toString('hex'));
      const root = merkleRoot(hashes);
      for (let i = 0; i < n; i++) expect(rootFromProof(hashes[i]!, merkleProof(hashes, i))).toBe(root);
      const other = [...hashes];
      other[0] = randomBytes(32).toString('hex');
      expect(merkleRoot(other)).not.toBe(root);
    }
    expect(merkleRoot([])).toBe(EMPTY_ROOT);
    expect(() => merkleProof(['00'.repeat(32)], 1)).toThrow(/no leaf 1/);
  });

  it('hashes a leaf differently when any field changes, and round-trips through JSON', () => {
    const l = leaf(1);
    expect(leafHash({ ...l, fee: l.fee + 1n })).not.toBe(leafHash(l));
    expect(leafHash({ ...l, node: publicKeyOf(key) })).not.toBe(leafHash(l));
    expect(leafHash(fromLeafJson(toLeafJson(l)))).toBe(leafHash(l));
  });
});

describe('pay, then reveal: authorizeLeaves', () => {
  it("signs a cap of the previous cap plus the leaves' fees, the next nonce and their root", () => {
    const leaves = [leaf(1), leaf(2, 400n)];
    const { authorization, signature } = authorizeLeaves(
      { cumulative: 5000n, nonce: 7n },
      leaves,
      market,
      chainId,
      key,
    );
    expect(authorization).toMatchObject({
      account,
      market,
      cumulative: 6000n,
      nonce: 8n,
      receiptsRoot: merkleRoot(leaves.map(leafHash)),
    });
    expect(verifyAccountsMessage(spendAuthorizationCV(authorization), chainId, signature, publicKeyOf(key))).toBe(true);
  });

  it('refuses a leaf whose request another key signed, one above its max fee, another market or account', () => {
    expect(() =>
      authorizeLeaves({ cumulative: 0n, nonce: 0n }, [leaf(1), leaf(2, 600n, other)], market, chainId, key),
    ).toThrow(/leaf 1 .*never signed/);
    expect(() => authorizeLeaves({ cumulative: 0n, nonce: 0n }, [leaf(1, 1001n)], market, chainId, key)).toThrow(
      /above its max fee 1000/,
    );
    expect(() => authorizeLeaves({ cumulative: 0n, nonce: 0n }, [leaf(1)], `${market}-2`, chainId, key)).toThrow(
      /not at/,
    );
    const foreign = leaf(1, 600n, other);
    foreign.request.account = principalOfKey(node, chainId);
    expect(() => authorizeLeaves({ cumulative: 0n, nonce: 0n }, [foreign], market, chainId, key)).toThrow(
      /charges account/,
    );
    expect(() => authorizeLeaves({ cumulative: 0n, nonce: 0n }, [], market, chainId, key)).toThrow(/no leaves/);
  });
});

describe('prepaid task ids', () => {
  it('are deterministic per request, above 2^101, and differ between requests', () => {
    const a = accountsMessageHash(taskRequestCV(request(1)), chainId);
    const b = accountsMessageHash(taskRequestCV(request(2)), chainId);
    expect(prepaidTaskId(a)).toBe(prepaidTaskId(a));
    expect(prepaidTaskId(a)).not.toBe(prepaidTaskId(b));
    expect(BigInt(prepaidTaskId(a)) >= 1n << 101n).toBe(true);
  });
});
