/**
 * Publishing console uploads on chain from the signer's account: deploy (first version of a
 * name) or upgrade (spend the live output), retire (unpublish) and roll back, each a signed
 * model-registry call waited for until mined, then mirrored in `console_models`.
 */
import { and, eq } from 'drizzle-orm';
import { deployModelArgs, retireModelArgs, rollbackModelArgs, upgradeModelArgs } from '../../protocol/index.js';
import { sendRegistryCall, type MinedCall, type ModelHead } from '../catalog/index.js';
import type { Chain } from '../chain/index.js';
import { consoleModels } from '../db/index.js';
import { ApiError } from '../errors.js';
import type { Services } from '../services.js';
import { artifactPath, getModel, updateModel, type ConsoleModel } from './store.js';

/** What an unpublish or a rollback did. */
export interface RegistryChange {
  name: string;
  txid: string;
  /** The version now live (rollback), or the version retired (unpublish). */
  version: number;
  artifact_hash: string;
}

// One registry change at a time: two publishes of one name would both try to spend the same head.
let lock: Promise<unknown> = Promise.resolve();
function oneAtATime<T>(work: () => Promise<T>): Promise<T> {
  const run = lock.then(work);
  lock = run.catch(() => {});
  return run;
}

function chainOf(s: Services): Chain {
  if (!s.catalog.chain)
    throw new ApiError(
      'conflict',
      'publishing needs the chain (chain.enabled): start the signer with [chain] enabled = true and its key in SIGNER_PRIVATE_KEY',
    );
  return s.catalog.chain;
}

/** The head as the chain has it now (the cached one may be a few seconds old). */
function freshHead(s: Services, name: string): Promise<ModelHead | null> {
  s.catalog.invalidate(name);
  return s.catalog.head(name);
}

function requireOwned(chain: Chain, head: ModelHead): void {
  if (head.owner !== chain.address)
    throw new ApiError(
      'conflict',
      `${head.name} is owned on chain by ${head.owner}, not by this signer's account ${chain.address}; only its owner can change it`,
    );
}

function send(s: Services, chain: Chain, fn: string, args: Parameters<typeof sendRegistryCall>[2]): Promise<MinedCall> {
  return sendRegistryCall(chain, fn, args, { timeoutMs: s.config.models.publish_timeout_ms });
}

/** Marks the name's previously live upload(s) unpublished and, given one, the upload now live as published. */
function recordLive(s: Services, name: string, live: { id: number; head: ModelHead; txid: string } | null): void {
  s.store.sqlite.transaction(() => {
    s.store.db
      .update(consoleModels)
      .set({ status: 'unpublished', updated_at: Date.now() })
      .where(and(eq(consoleModels.name, name), eq(consoleModels.status, 'published')))
      .run();
    if (live)
      updateModel(s, live.id, {
        status: 'published',
        error: null,
        price: live.head.price,
        output_id: live.head.output_id,
        version: live.head.version,
        publish_txid: live.txid,
      });
  })();
}

/**
 * Publishes upload `id` at `price` micro-STX: deploys its name, or upgrades the live version the
 * signer owns. `artifactBaseUrl` is this signer's public URL; nodes fetch the file from there.
 */
export function publishModel(s: Services, id: number, price: bigint, artifactBaseUrl: string): Promise<ConsoleModel> {
  return oneAtATime(async () => {
    const chain = chainOf(s);
    const model = getModel(s, id);
    await artifactPath(s, model);
    const args = {
      artifactHash: model.sha256,
      format: 'onnx',
      price,
      uri: `${artifactBaseUrl.replace(/\/$/, '')}/api/v1/models/${model.sha256}/artifact`,
    };
    const head = await freshHead(s, model.name);
    if (head) {
      requireOwned(chain, head);
      if (head.artifact_hash === model.sha256 && head.price === price.toString())
        throw new ApiError(
          'conflict',
          `${model.name} version ${head.version} is already live with this file and price`,
        );
    } else if ((await s.catalog.versions(model.name)).length > 0) {
      // Said before sending: the deploy would abort with ERR_MODEL_EXISTS and still cost its fee.
      throw new ApiError(
        'conflict',
        `${model.name} was published before and retired; the registry never reuses a name, so publish this file under another name`,
      );
    }
    const mined = head
      ? await send(s, chain, 'upgrade', upgradeModelArgs({ outputId: BigInt(head.output_id), ...args }))
      : await send(s, chain, 'deploy', deployModelArgs({ model: model.name, ...args }));
    const live = await freshHead(s, model.name);
    if (live?.artifact_hash !== model.sha256)
      throw new ApiError(
        'conflict',
        `${mined.txid} was mined but ${model.name}'s live version is not this file any more (changed meanwhile); see its versions`,
      );
    recordLive(s, model.name, { id, head: live, txid: mined.txid });
    s.log.info(
      { model: model.name, version: live.version, output_id: live.output_id, txid: mined.txid },
      'model published',
    );
    return getModel(s, id);
  });
}

/** Retires the live version of `name` (the registry never lets the name be deployed again). */
export function unpublishModel(s: Services, name: string): Promise<RegistryChange> {
  return oneAtATime(async () => {
    const chain = chainOf(s);
    const head = await freshHead(s, name);
    if (!head) throw new ApiError('not_found', `${name} has no live version on chain to unpublish`);
    requireOwned(chain, head);
    const mined = await send(s, chain, 'retire', retireModelArgs(BigInt(head.output_id)));
    s.catalog.invalidate(name);
    recordLive(s, name, null);
    s.log.info({ model: name, version: head.version, txid: mined.txid }, 'model unpublished');
    return { name, txid: mined.txid, version: head.version, artifact_hash: head.artifact_hash };
  });
}

/** Makes an earlier version's file live again, as a new version (the price stays the current one). */
export function rollbackModel(s: Services, name: string, version: number): Promise<RegistryChange> {
  return oneAtATime(async () => {
    const chain = chainOf(s);
    const head = await freshHead(s, name);
    if (!head)
      throw new ApiError('not_found', `${name} has no live version on chain; a retired model cannot be rolled back`);
    requireOwned(chain, head);
    const target = (await s.catalog.versions(name)).find((v) => v.version === version);
    if (!target)
      throw new ApiError(
        'not_found',
        `${name} has no version ${version}; see GET /api/v1/admin/models/${name}/versions`,
      );
    if (target.live) throw new ApiError('conflict', `version ${version} of ${name} is already the live version`);
    const mined = await send(s, chain, 'rollback', rollbackModelArgs(BigInt(head.output_id), BigInt(target.output_id)));
    const live = await freshHead(s, name);
    if (!live)
      throw new ApiError(
        'conflict',
        `${mined.txid} was mined but ${name} has no live version any more (retired meanwhile)`,
      );
    const upload = s.store.db
      .select({ id: consoleModels.id })
      .from(consoleModels)
      .where(and(eq(consoleModels.name, name), eq(consoleModels.sha256, live.artifact_hash)))
      .orderBy(consoleModels.id)
      .all()
      .pop();
    recordLive(s, name, upload ? { id: upload.id, head: live, txid: mined.txid } : null);
    s.log.info({ model: name, to_version: version, version: live.version, txid: mined.txid }, 'model rolled back');
    return { name, txid: mined.txid, version: live.version, artifact_hash: live.artifact_hash };
  });
}
