/** `market models`, `deploy-model`, `upgrade-model`, `upload-model`, `retire-model`: model owners' commands. */
import { readFileSync } from 'node:fs';
import { ClarityType } from '@stacks/transactions';
import { MODEL_REGISTRY, deployModelArgs, retireModelArgs, upgradeModelArgs } from '../../protocol/index.js';
import { sha256Hex } from '../../protocol/index.js';
import type { Context } from '../context.js';

/** Model names that ever printed a registry event, read from the node's contract events. */
async function modelNames(ctx: Context): Promise<string[]> {
  const names = new Set<string>();
  const id = `${ctx.config.contracts_address}.${MODEL_REGISTRY}`;
  for (let offset = 0; ; offset += 50) {
    const res = await fetch(
      new URL(`/extended/v1/contract/${id}/events?limit=50&offset=${offset}`, ctx.config.node_url),
    );
    if (!res.ok) throw new Error(`reading ${MODEL_REGISTRY} events: HTTP ${res.status}`);
    const page = (await res.json()) as { results: { contract_log?: { value: { repr: string } } }[] };
    for (const e of page.results) {
      const m = /\(model "((?:[^"\\]|\\.)*)"\)/.exec(e.contract_log?.value.repr ?? '');
      if (m) names.add(m[1]);
    }
    if (page.results.length < 50) break;
  }
  return [...names].sort();
}

/** `market models`: every live model with its price, owner and version. */
export async function listModels(ctx: Context): Promise<void> {
  const heads = [];
  for (const name of await modelNames(ctx)) {
    const head = await ctx.chain.modelHead(name);
    if (head) heads.push(head);
  }
  ctx.out.result(
    { models: heads },
    heads.length === 0
      ? ['no live models; publish one with: market deploy-model FILE --name NAME --price µSTX']
      : heads.map(
          (h) =>
            `${h.model}  v${h.version}  ${h.price} µSTX/call  owner ${h.owner}  output ${h.outputId}  sha256 ${h.artifactHash}`,
        ),
  );
}

function readModel(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Error(`cannot read model file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/**
 * Loads the file in onnxruntime, as the console and the nodes will: a file nobody can run must
 * not become a model on chain (the name could never be reused) for the price of a transaction.
 */
async function checkLoads(file: string, bytes: Uint8Array): Promise<void> {
  const ort = await import('onnxruntime-node');
  let session: Awaited<ReturnType<typeof ort.InferenceSession.create>>;
  try {
    session = await ort.InferenceSession.create(bytes);
  } catch (e) {
    throw new Error(
      `${file} is not a model onnxruntime can load (${(e as Error).message.split('\n')[0]}); nothing was sent`,
    );
  }
  await session.release();
}

/** Refuses, before any fee is paid, to spend a model output the wallet does not own. */
function checkOwner(ctx: Context, name: string, owner: string, what: string): void {
  const me = ctx.wallet().address;
  if (owner !== me)
    throw new Error(
      `model "${name}" is owned by ${owner}, not by this wallet (${me}): only its owner can ${what} it; nothing was sent`,
    );
}

function price(value: string | undefined): bigint {
  if (!value || !/^\d+$/.test(value))
    throw new Error(`--price must be the price per call in µSTX, a whole number (got "${value ?? ''}")`);
  return BigInt(value);
}

async function publish(
  ctx: Context,
  fn: string,
  args: ReturnType<typeof deployModelArgs>,
): Promise<{ txid: string; outputId: bigint }> {
  const txid = await ctx.chain.call(ctx.wallet(), MODEL_REGISTRY, fn, args);
  const c = await ctx.chain.confirm(txid, (s) =>
    ctx.out.progress(`waiting for ${fn} ${txid.slice(0, 12)}… (${s.toFixed(0)} s)`),
  );
  ctx.out.done();
  const r = c.result;
  const outputId = r.type === ClarityType.ResponseOk && r.value.type === ClarityType.UInt ? BigInt(r.value.value) : -1n;
  return { txid, outputId };
}

/**
 * Stores the model file with the signer, as the model's owner: the signer accepts it only for the
 * live version of `name` on chain whose artifact hash it is, in a request signed by its owner.
 * So this comes after the deploy or upgrade is mined.
 */
async function uploadArtifact(ctx: Context, name: string, bytes: Uint8Array, done: string): Promise<void> {
  ctx.out.progress(`uploading the model file (${bytes.length} bytes) to the signer`);
  try {
    await ctx.signer.putArtifact(bytes, name, ctx.wallet());
  } catch (e) {
    throw new Error(`${done}, but ${(e as Error).message}\nretry with: market upload-model FILE --name ${name}`);
  }
  ctx.out.done();
}

/** `market deploy-model FILE --name N --price P`: deploy the first output on chain, then store the artifact with the signer. */
export async function deployModel(
  ctx: Context,
  file: string,
  name: string | undefined,
  priceArg: string | undefined,
  format = 'onnx',
): Promise<void> {
  if (!name) throw new Error('--name is required: the model name to publish under (1-64 ASCII characters)');
  const bytes = readModel(file);
  const p = price(priceArg);
  await checkLoads(file, bytes);
  const existing = await ctx.chain.modelHead(name);
  if (existing)
    throw new Error(
      `model "${name}" exists already (v${existing.version}, owner ${existing.owner}${existing.outputId === null ? ', retired' : ''}): a name is deployed once; upgrade it as its owner, or choose another name; nothing was sent`,
    );
  const artifactHash = sha256Hex(bytes);
  const uri = `${ctx.config.signer_url}/api/v1/models/${artifactHash}/artifact`;
  const { txid, outputId } = await publish(
    ctx,
    'deploy',
    deployModelArgs({ model: name, artifactHash, format, price: p, uri }),
  );
  await uploadArtifact(ctx, name, bytes, `${name} v1 is deployed (output ${outputId}, tx ${txid})`);
  ctx.out.result({ model: name, output_id: outputId, artifact_hash: artifactHash, price: p, txid }, [
    `deployed ${name} v1 as output ${outputId} (sha256 ${artifactHash}, ${p} µSTX/call, tx ${txid})`,
  ]);
}

/** `market upgrade-model FILE --name N [--price P]`: spend the live output into its next version, then store its artifact with the signer. */
export async function upgradeModel(
  ctx: Context,
  file: string,
  name: string | undefined,
  priceArg: string | undefined,
  format = 'onnx',
): Promise<void> {
  if (!name) throw new Error('--name is required: the model to upgrade');
  const head = await ctx.chain.modelHead(name);
  if (!head || head.outputId === null)
    throw new Error(`model "${name}" has no live output to upgrade; deploy it first`);
  checkOwner(ctx, name, head.owner, 'upgrade');
  const bytes = readModel(file);
  await checkLoads(file, bytes);
  const p = priceArg === undefined ? head.price : price(priceArg);
  const artifactHash = sha256Hex(bytes);
  const uri = `${ctx.config.signer_url}/api/v1/models/${artifactHash}/artifact`;
  const { txid, outputId } = await publish(
    ctx,
    'upgrade',
    upgradeModelArgs({ outputId: head.outputId, artifactHash, format, price: p, uri }),
  );
  await uploadArtifact(
    ctx,
    name,
    bytes,
    `${name} is upgraded to v${head.version + 1n} (output ${outputId}, tx ${txid})`,
  );
  ctx.out.result({ model: name, output_id: outputId, version: head.version + 1n, artifact_hash: artifactHash, txid }, [
    `upgraded ${name} to v${head.version + 1n} as output ${outputId} (tx ${txid})`,
  ]);
}

/** `market upload-model FILE --name N`: store the file of the live version of a model you own with the signer (after a failed upload, or with another signer). */
export async function uploadModel(ctx: Context, file: string, name: string | undefined): Promise<void> {
  if (!name) throw new Error('--name is required: the model whose live version names this file');
  const bytes = readModel(file);
  const head = await ctx.chain.modelHead(name);
  if (!head || head.outputId === null) throw new Error(`model "${name}" has no live output; deploy it first`);
  const artifactHash = sha256Hex(bytes);
  if (head.artifactHash !== artifactHash)
    throw new Error(
      `${file} (sha256 ${artifactHash}) is not the artifact of ${name} v${head.version} (${head.artifactHash})`,
    );
  await uploadArtifact(ctx, name, bytes, `${name} v${head.version} is live`);
  ctx.out.result({ model: name, output_id: head.outputId, artifact_hash: artifactHash }, [
    `stored the file of ${name} v${head.version} (sha256 ${artifactHash}) with the signer`,
  ]);
}

/** `market retire-model --name N`: spend the live output with no child. */
export async function retireModel(ctx: Context, name: string | undefined): Promise<void> {
  if (!name) throw new Error('--name is required: the model to retire');
  const head = await ctx.chain.modelHead(name);
  if (!head || head.outputId === null) throw new Error(`model "${name}" has no live output`);
  checkOwner(ctx, name, head.owner, 'retire');
  const { txid } = await publish(ctx, 'retire', retireModelArgs(head.outputId));
  ctx.out.result({ model: name, retired_output: head.outputId, txid }, [
    `retired ${name} (output ${head.outputId}, tx ${txid})`,
  ]);
}
