/**
 * Test helpers for the signer: a throwaway database with services and app, node keys that sign
 * requests and results exactly as a node agent does, and tasks inserted as the watcher would.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, inject } from 'vitest';
import { compressPublicKey, privateKeyToAddress, privateKeyToPublic, randomPrivateKey } from '@stacks/transactions';
import {
  NODE_AUTH_HEADERS,
  jsonHash,
  requesterAuthHeaders,
  sha256Hex,
  signNodeRequest,
  signTaskResult,
  type RegisterNodeRequest,
} from '../../protocol/index.js';
import {
  createApp,
  createServices,
  openDatabase,
  resolveConfig,
  type Services,
  type SignerConfigInput,
} from '../../signer/index.js';
import { consoleModels, inferenceTasks, modelPolicies, type SignerDatabase } from '../../signer/db/index.js';
import { ingest } from '../../signer/chain/watcher.js';
import type { TaskSubmittedEvent } from '../../signer/chain/types.js';
import { TEMPLATE_DATABASE } from '../pg/global-setup.js';
import { ident } from '../pg/server.js';
import { PgSyncDb } from '../../signer/db/pg-sync.js';

export const ESCROW = 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.inference-escrow';
export const ARTIFACT_A = sha256Hex('model-a.onnx');
export const ARTIFACT_B = sha256Hex('model-b.onnx');

/** A signer under test: services, app, and a cleanup. */
export interface TestSigner {
  s: Services;
  app: ReturnType<typeof createApp>;
  dir: string;
  close(): void;
}

/** True in the vitest project `signer-pg`: the suites run on PostgreSQL. */
export const PG_DIALECT = process.env.SIGNER_TEST_DIALECT === 'postgres';

const testDatabases: string[] = [];
/** This file's connection to the server for creating and dropping test databases (a psql per clone cost twice as much). */
let admin: PgSyncDb | null = null;
if (PG_DIALECT) {
  // One drop per test file, when its suites are done; `force` ends connections a test left open.
  afterAll(() => {
    if (!admin) return;
    for (const name of testDatabases.splice(0)) admin.exec(`drop database if exists ${ident(name)} with (force)`);
    admin.close();
    admin = null;
  });
}

/**
 * Where a test's signer database lives: a SQLite file under `dir` (":memory:" without one), or in
 * the `signer-pg` project a fresh PostgreSQL database cloned from the migrated template (its
 * postgres:// URL), dropped when the test file ends. Synchronous, as `makeSigner` is.
 */
export function testDatabaseLocation(dir?: string): string {
  if (!PG_DIALECT) return dir === undefined ? ':memory:' : join(dir, 'signer.db');
  const server = inject('pgUrl');
  admin ??= new PgSyncDb(server, { migrate: false });
  const name = `t_${randomBytes(8).toString('hex')}`;
  admin.exec(`create database ${ident(name)} template ${ident(TEMPLATE_DATABASE)} strategy file_copy`);
  testDatabases.push(name);
  const url = new URL(server);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Services + app over the database at `location`; no background loops (tests drive time). `close` removes `dir` if `ownsDir`. */
export function signerAt(location: string, dir: string, config: SignerConfigInput = {}, ownsDir = false): TestSigner {
  const cfg = resolveConfig({ ...config, database: { path: location }, log: { level: 'silent' } });
  const store = openDatabase(cfg.database.path);
  const s = createServices({ config: cfg, store, log: pino({ level: 'silent' }), escrow: ESCROW });
  return {
    s,
    app: createApp(s),
    dir,
    close: () => {
      void s.verifier.close();
      void s.dashboardTotals.close();
      store.close();
      if (ownsDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Services + app over a fresh database (see testDatabaseLocation), in a folder of its own. */
export function makeSigner(config: SignerConfigInput = {}): TestSigner {
  const dir = mkdtempSync(join(tmpdir(), 'signer-test-'));
  return signerAt(testDatabaseLocation(dir), dir, config, true);
}

/** Two connections to one fresh database, as two replicas hold; `close` ends both and removes the folder. */
export function twoConnections(prefix: string): { one: SignerDatabase; two: SignerDatabase; close(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const location = testDatabaseLocation(dir);
  const one = openDatabase(location);
  const two = openDatabase(location);
  return {
    one,
    two,
    close: () => {
      one.close();
      two.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A node operator's key and the requests it signs. */
export class TestNode {
  readonly key = randomPrivateKey();
  readonly publicKey = compressPublicKey(privateKeyToPublic(this.key));

  constructor(
    readonly nodeId: string,
    readonly models: string[] = [ARTIFACT_A],
    readonly chainId = 0x80000000,
  ) {}

  /** Headers of a signed request (as node-agent/client does). */
  headers(
    method: string,
    path: string,
    body = '',
    timestamp = Date.now(),
    key = this.key,
    nodeId = this.nodeId,
  ): Record<string, string> {
    const signature = signNodeRequest({ method, path, bodyHash: sha256Hex(body), timestamp }, this.chainId, key);
    return {
      [NODE_AUTH_HEADERS.node]: nodeId,
      [NODE_AUTH_HEADERS.timestamp]: String(timestamp),
      [NODE_AUTH_HEADERS.signature]: signature,
      'content-type': 'application/json',
    };
  }

  /** A signed request for app.request. */
  request(method: string, path: string, body?: unknown): [string, RequestInit] {
    const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
    return [path, { method, headers: this.headers(method, path, text), body: body === undefined ? undefined : text }];
  }

  registration(extra: Partial<RegisterNodeRequest> = {}): RegisterNodeRequest {
    return {
      node_id: this.nodeId,
      endpoint: '',
      public_key: this.publicKey,
      supported_models: this.models,
      performance_score: 10,
      ...extra,
    };
  }

  /** A complete-task body with a valid output hash and signature. */
  result(
    task: { task_id: string; chain_task_id: string | null; input_hash: string },
    output: unknown = { outputs: [{ name: 'y', shape: [1], datatype: 'FP32', data: [0.5] }] },
  ) {
    const output_hash = jsonHash(output);
    const signature = signTaskResult(
      {
        escrow: ESCROW,
        taskId: BigInt(task.chain_task_id ?? task.task_id),
        inputHash: task.input_hash,
        outputHash: output_hash,
      },
      this.chainId,
      this.key,
    );
    return { task_id: task.task_id, output, confidence: 0.9, inference_node_id: this.nodeId, output_hash, signature };
  }
}

/** A requester's wallet: its address (the task's `requester` on chain) and the requests it signs. */
export class TestRequester {
  readonly address: string;

  constructor(
    readonly key = randomPrivateKey(),
    readonly chainId = 0x80000000,
  ) {
    this.address = privateKeyToAddress(key, chainId === 1 ? 'mainnet' : 'testnet');
  }

  /** The requester headers of a signed request (as `market` sends them). */
  headers(method: string, path: string, timestamp = Date.now()): Record<string, string> {
    return requesterAuthHeaders(method, path, this.chainId, this.key, timestamp);
  }
}

/** Registers a node through the API; returns the response status. */
export async function register(
  t: TestSigner,
  node: TestNode,
  extra: Partial<RegisterNodeRequest> = {},
): Promise<number> {
  const res = await t.app.request(...node.request('POST', '/api/v1/nodes/register', node.registration(extra)));
  return res.status;
}

let nextChainId = 1n;

/** A task-submitted event with sensible defaults. */
export function taskEvent(e: Partial<TaskSubmittedEvent> = {}): TaskSubmittedEvent {
  const id = e.chainTaskId ?? nextChainId++;
  return {
    chainTaskId: id,
    requester: 'ST2CY5V39NHDPWSXMW9QDT3HC3GD6Q6XX4CFRK9AG',
    modelOutput: 1n,
    model: 'model-a',
    artifactHash: ARTIFACT_A,
    inputHash: sha256Hex(`input-${id}`),
    fee: 1000n,
    deadline: 1000n,
    privacy: 0,
    priority: 0,
    security: 1,
    precision: 0,
    sampleBps: 0,
    txid: `0x${sha256Hex(`tx-${id}`)}`,
    blockHeight: 5,
    eventIndex: Number(id),
    ...e,
  };
}

/** Inserts tasks the way the chain watcher does; returns their ids. */
export function addTasks(t: TestSigner, ...events: Partial<TaskSubmittedEvent>[]): string[] {
  const evs = events.map(taskEvent);
  ingest(t.s, evs, null);
  return evs.map((e) => e.chainTaskId.toString());
}

/** Parses an envelope response (`code`: the stable reason of a refusal). */
export async function body(
  res: Response,
): Promise<{ success: boolean; data: any; error: string | null; code?: string }> {
  return (await res.json()) as { success: boolean; data: any; error: string | null; code?: string };
}

/** A model's IO as the console records what onnxruntime reads: ort types, symbolic dimensions by name. */
export interface RecordedIo {
  inputs: { name: string; type: string; shape: (string | number)[] }[];
  outputs: { name: string; type: string; shape: (string | number)[] }[];
}

/** The IO of the tests' two-input float model `x` -> `y`. */
export const FLOAT_IO: RecordedIo = {
  inputs: [{ name: 'x', type: 'float32', shape: ['batch', 2] }],
  outputs: [{ name: 'y', type: 'float32', shape: ['batch'] }],
};

/** Publishes a model the way the console does without a chain: a published console_models row, version 1, free. */
export function publishConsoleModel(t: TestSigner, name: string, io: RecordedIo = FLOAT_IO, sha256 = ARTIFACT_A): void {
  const now = Date.now();
  t.s.store.db
    .insert(consoleModels)
    .values({
      name,
      sha256,
      size: 10,
      status: 'published',
      price: '0',
      version: 1,
      created_at: now,
      updated_at: now,
      inputs: JSON.stringify(io.inputs),
      outputs: JSON.stringify(io.outputs),
    })
    .run();
}

/** Inserts a pending direct task (no chain, no node) created at `at`: what the dashboard counts. */
export function insertDirectTask(store: Services['store'], taskId: string, at: number): void {
  store.db
    .insert(inferenceTasks)
    .values({
      task_id: taskId,
      user_address: 'ST000',
      fee: '1',
      infer_fee: '1',
      max_infer_time: 60_000,
      model_type: 'cls',
      status: 'pending',
      created_at: at,
      updated_at: at,
      artifact_hash: ARTIFACT_A,
      input_hash: ARTIFACT_A,
      privacy: 'standard',
      source: 'direct',
    })
    .run();
}

/** Sets a model's data level (L0, L1, L2), as the console's Privacy page does. */
export function setModelLevel(t: TestSigner, model: string, level: string): void {
  t.s.store.db
    .insert(modelPolicies)
    .values({ model, data_level: level, updated_at: Date.now() })
    .onConflictDoUpdate({ target: modelPolicies.model, set: { data_level: level } })
    .run();
}

/** An Open Inference Protocol JSON input of one BYTES tensor holding `data`. */
export function textInput(...data: string[]): Buffer {
  return Buffer.from(JSON.stringify({ inputs: [{ name: 'text', shape: [data.length], datatype: 'BYTES', data }] }));
}
