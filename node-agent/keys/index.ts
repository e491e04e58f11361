/**
 * The node's secp256k1 key: created on first run (file mode 0600), then reused. Its public key
 * identifies the node to the signer and its address is where the escrow pays the node.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  compressPublicKey,
  getAddressFromPrivateKey,
  privateKeyToPublic,
  randomPrivateKey,
} from '@stacks/transactions';
import { PRIVATE_KEY_HINT, isPrivateKey, stacksNetworkOf, type NetworkName } from '../../protocol/index.js';

/** A loaded node key with what is derived from it. */
export interface NodeKey {
  privateKey: string;
  /** Compressed, hex: what the signer verifies signatures with. */
  publicKey: string;
  /** Stacks address of the key on the configured network: the payout address. */
  address: string;
  /** True when this call created the key file. */
  created: boolean;
}

/** Reads the key file, creating it (and its directory) with mode 0600 when it does not exist. */
export function loadOrCreateKey(file: string, network: NetworkName): NodeKey {
  let created = false;
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    // 'wx' so that two agents starting at once cannot both write a key.
    writeFileSync(file, `${randomPrivateKey()}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
    created = true;
  }
  const mode = statSync(file).mode & 0o077;
  if (mode !== 0)
    throw new Error(
      `key file ${file} is readable by others (mode ${(statSync(file).mode & 0o777).toString(8)}); run chmod 600 ${file}`,
    );
  const privateKey = readFileSync(file, 'utf8').trim();
  if (!isPrivateKey(privateKey))
    throw new Error(`key file ${file} must hold one hex secp256k1 private key: it ${PRIVATE_KEY_HINT}`);
  return {
    privateKey,
    publicKey: compressPublicKey(privateKeyToPublic(privateKey)),
    address: getAddressFromPrivateKey(privateKey, stacksNetworkOf(network)),
    created,
  };
}
