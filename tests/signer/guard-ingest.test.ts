/**
 * The guard at chain ingest: an input uploaded before its task, with a laxer `?model=` than the
 * task's model (or none), was read at that laxer level only. When the chain task arrives, its input
 * is read again at the task's level if it was read at a laxer one (input_blobs.guard_level); on a
 * finding the level does not let out, the task is failed before any node is offered it (error
 * `policy_refused: …` naming rule and field, never the value; the requester reclaims its fee after
 * the deadline), and the findings are audited against the task. The other order (task first,
 * upload after) is guarded at upload, at the waiting task's level.
 */
import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { privacyCode, sha256Hex } from '../../protocol/index.js';
import { guardAudit, inputBlobs } from '../../signer/db/index.js';
import { recordGuardLevel } from '../../signer/guard/index.js';
import { getTask, leaseNext } from '../../signer/tasks/index.js';
import { storeInput } from '../../signer/uploads/index.js';
import {
  addTasks,
  body,
  makeSigner,
  register,
  TestNode,
  TestRequester,
  type TestSigner,
  setModelLevel,
  textInput,
} from './helpers.js';

const node = new TestNode('node-1');

const EMAIL = 'li.si@example.cn';
const json = textInput;

let t: TestSigner;
const requester = new TestRequester();
const setLevel = (model: string, level: string) => setModelLevel(t, model, level);
const audit = () => t.s.store.db.select().from(guardAudit).all();
const levelOf = (sha: string) =>
  t.s.store.db.select({ l: inputBlobs.guard_level }).from(inputBlobs).where(eq(inputBlobs.sha256, sha)).get()?.l;

function put(bytes: Uint8Array, o: { model?: string; signed?: boolean } = {}) {
  const path = `/api/v1/inputs/${sha256Hex(bytes)}${o.model ? `?model=${o.model}` : ''}`;
  const headers = o.signed === false ? {} : requester.headers('PUT', path);
  return t.app.request(path, { method: 'PUT', headers, body: Buffer.from(bytes) });
}

beforeEach(async () => {
  t = makeSigner();
  setLevel('open-model', 'L0');
  setLevel('model-a', 'L1');
  await register(t, node);
});
afterEach(() => t.close());

describe('the guard on a chain task whose input was uploaded first', () => {
  it('reads the input again at a stricter model level: refused, the task fails with policy_refused and no node gets it', async () => {
    const bytes = json('hello', `write to ${EMAIL}`);
    // Uploaded for an L0 model: personal data passes there (audited as pass).
    expect((await put(bytes, { model: 'open-model' })).status).toBe(201);
    // The task on chain names an L1 model: L1 would mask, and a fixed hash cannot be masked.
    const [id] = addTasks(t, { inputHash: sha256Hex(bytes), model: 'model-a' });
    const task = getTask(t.s.store, id!)!;
    expect(task.status).toBe('failed');
    expect(task.error).toMatch(
      /^policy_refused: personal data that data level L1 does not let out: email at \$\.inputs\[0\]\.data\[1\]/,
    );
    expect(task.error).not.toContain(EMAIL);
    expect(leaseNext(t.s, 'node-1', Date.now() + 5_000)).toBeNull();
    // What `market status` shows: the signer's status and error.
    const status = await body(await t.app.request(`/api/v1/tasks/${id}/status?history=true`));
    expect(status.data).toMatchObject({ status: 'failed', error: expect.stringMatching(/^policy_refused: /) });
    expect(JSON.stringify(status)).not.toContain(EMAIL);
    expect(audit().map((a) => `${a.request_id} ${a.model} ${a.data_level} ${a.rule} ${a.path} ${a.action}`)).toEqual([
      `input:${sha256Hex(bytes)} open-model L0 email $.inputs[0].data[1] pass`,
      `task:${id} model-a L1 email $.inputs[0].data[1] refuse`,
    ]);
    expect(JSON.stringify(audit())).not.toContain('li.si');
  });

  it('an upload without ?model= is read at the default level (L1), recorded, and read again at L2 for a task of an L2 model', async () => {
    setLevel('model-a', 'L2');
    setLevel('open-model', 'L1');
    const bytes = json('call 13812345678');
    // L1 masks a phone number: a fixed hash is refused at upload already.
    expect((await put(bytes)).status).toBe(422);
    const clean = json('nothing personal here');
    expect((await put(clean)).status).toBe(201);
    expect(levelOf(sha256Hex(clean))).toBe('L1');
    const [id] = addTasks(t, { inputHash: sha256Hex(clean), model: 'model-a' });
    // Clean at L2 too: it stays pending (trusted-only), and the input is recorded as read at L2.
    expect(getTask(t.s.store, id!)!.status).toBe('pending');
    expect(levelOf(sha256Hex(clean))).toBe('L2');
  });

  it('a task at the same or a laxer level than its upload is not read again; an encrypted one is never read', async () => {
    const bytes = json(`ask ${EMAIL}`);
    expect((await put(bytes, { model: 'open-model' })).status).toBe(201);
    const [same] = addTasks(t, { inputHash: sha256Hex(bytes), model: 'open-model' });
    expect(getTask(t.s.store, same!)!.status).toBe('pending');
    const [sealed] = addTasks(t, { inputHash: sha256Hex(bytes), model: 'model-a', privacy: privacyCode('encrypted') });
    expect(getTask(t.s.store, sealed!)!.status).toBe('pending');
    expect(audit()).toHaveLength(1);
  });

  it('the other order: a task of an L1 model first, then an upload naming an L0 model is refused at L1', async () => {
    const bytes = json(`from ${EMAIL}`);
    const [id] = addTasks(t, { inputHash: sha256Hex(bytes), model: 'model-a' });
    const res = await put(bytes, { model: 'open-model', signed: false });
    expect(res.status).toBe(422);
    const b = await body(res);
    expect(b.code).toBe('policy_refused');
    expect(b.error).toMatch(/data level L1 .*email at \$\.inputs\[0\]\.data\[0\]/);
    expect(t.s.store.db.select().from(inputBlobs).all()).toEqual([]);
    // Nothing to run: the task waits for an input it may take (or its deadline).
    expect(getTask(t.s.store, id!)!.status).toBe('pending');
  });

  it('and when the node fetches it: an input stored at a laxer level after its task was ingested (an upload on another replica at that moment) is read again, and the task fails', async () => {
    const bytes = json(`to ${EMAIL}`);
    const sha = sha256Hex(bytes);
    const [id] = addTasks(t, { inputHash: sha, model: 'model-a' });
    // The race: the upload read no waiting task (L0) and stored after the ingest found no input.
    storeInput(t.s, { sha256: sha, bytes, contentType: 'application/json', uploader: null });
    recordGuardLevel(t.s.store, sha, 'L0');
    const pulled = await t.app.request(...node.request('GET', `/api/v1/nodes/${node.nodeId}/tasks`));
    expect((await body(pulled)).data.task_id).toBe(id);
    const got = await t.app.request(...node.request('GET', `/api/v1/inputs/${sha}`));
    expect(got.status).toBe(422);
    const b = await body(got);
    expect(b.code).toBe('policy_refused');
    expect(b.error).not.toContain(EMAIL);
    const task = getTask(t.s.store, id!)!;
    expect(task.status).toBe('failed');
    expect(task.error).toMatch(
      /^policy_refused: personal data that data level L1 does not let out: email at \$\.inputs\[0\]\.data\[0\]/,
    );
    expect(audit().map((a) => `${a.request_id} ${a.data_level} ${a.action}`)).toEqual([`task:${id} L1 refuse`]);
  });
});
