/** The chain tip and its blocks: `/v2/info`, `/extended` (API status) and `/extended/v2/blocks/{h}`. */
import { Hono } from 'hono';
import type { DevnetNode } from '../../node.js';
import { blockJson } from '../shapes.js';

/** The node's `/v2/info` body, with the devnet's tip. */
function info(node: DevnetNode) {
  const tip = node.store.lastBlock();
  const consensus = tip?.hash.slice(2, 42) ?? '0'.repeat(40);
  return {
    peer_version: 4207599113,
    pox_consensus: consensus,
    burn_block_height: node.tipHeight,
    stable_pox_consensus: consensus,
    stable_burn_block_height: node.tipHeight,
    server_version: 'stacks-inference-market devnet (clarinet-sdk simnet)',
    network_id: node.chainId,
    parent_network_id: 3669344250,
    stacks_tip_height: node.tipHeight,
    stacks_tip: tip?.hash.slice(2) ?? '0'.repeat(64),
    stacks_tip_consensus_hash: consensus,
    genesis_chainstate_hash: '0'.repeat(64),
    unanchored_tip: null,
    unanchored_seq: null,
    exit_at_block_height: null,
    is_fully_synced: true,
    node_public_key: null,
    node_public_key_hash: null,
  };
}

/** The tip and block routes over `node`. */
export function chainRoutes(node: DevnetNode): Hono {
  return new Hono()
    .get('/v2/info', (c) => c.json(info(node)))
    .get('/extended', (c) => {
      const tip = node.store.lastBlock();
      const chainTip = {
        block_height: node.tipHeight,
        block_hash: tip?.hash ?? '0x',
        index_block_hash: tip?.hash ?? '0x',
        microblock_hash: null,
        microblock_sequence: null,
        burn_block_height: node.tipHeight,
      };
      return c.json({
        server_version: 'stacks-inference-market devnet',
        status: 'ready',
        pox_v1_unlock_height: null,
        pox_v2_unlock_height: null,
        pox_v3_unlock_height: null,
        chain_tip: chainTip,
      });
    })
    .get('/extended/v2/blocks/:heightOrHash', (c) => {
      const p = c.req.param('heightOrHash');
      const b =
        p === 'latest'
          ? node.store.lastBlock()
          : /^\d+$/.test(p)
            ? node.store.block(Number(p))
            : node.store.block(p.startsWith('0x') ? p : `0x${p}`);
      return b ? c.json(blockJson(b)) : c.json({ error: `cannot find block by ${p}` }, 404);
    });
}
