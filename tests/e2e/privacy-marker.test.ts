/**
 * The signer never sees an encrypted task's plaintext (issue 14), through real processes: a task
 * whose input holds a marker value is submitted with `market submit --privacy encrypted`, settled,
 * and opened by its requester; then the marker of its input and the numbers of its output are
 * searched for in the signer's SQLite file, its WAL, every log of the marketplace, and every answer
 * the signer gives anyone but the requester. The search is shown to work by a standard task with
 * another marker, whose input and output it must find in the same places.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requesterAuthHeaders } from '../../protocol/index.js';
import { ROOT } from '../../scripts/lib/services.js';
import { DEMO_MODEL, type Marketplace } from '../../scripts/lib/marketplace.js';
import { key, marketplace } from './helpers.js';

const run = promisify(execFile);
let m: Marketplace;
let work: string;

beforeAll(async () => {
  ({ m } = await marketplace());
  work = mkdtempSync(join(tmpdir(), 'privacy-marker-'));
}, 240_000);
afterAll(async () => m?.stop(), 60_000);

/** A classifier input whose every value is `marker` (a number no other input holds). */
function markedInput(name: string, marker: string): string {
  const file = join(work, `${name}.json`);
  const data = `[${Array.from({ length: 3 * 48 * 192 }, () => marker).join(',')}]`;
  writeFileSync(file, `{"inputs":[{"name":"x","shape":[1,3,48,192],"datatype":"FP32","data":${data}}]}`);
  return file;
}

type Out = Record<string, unknown> & { output?: { outputs: { data: number[] }[] }; task_id?: string };

async function market(wallet: string, args: string[]): Promise<Out> {
  const argv = ['--import', 'tsx', 'market/cli.ts', ...args, '--json', '--node', m.devnetUrl, '--signer', m.signerUrl];
  const env = { ...process.env, MARKET_PRIVATE_KEY: key(wallet), MARKET_DATA_DIR: work };
  const { stdout } = await run(process.execPath, argv, { cwd: ROOT, env, maxBuffer: 64 << 20 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Out;
}

/** The strings that would betray a task's plaintext: its input's marker, and each output number as JSON writes it. */
function betraying(marker: string, out: Out): string[] {
  const numbers = out.output!.outputs.flatMap((t) => t.data).map((n) => JSON.stringify(n));
  // Short numbers (0, 1) occur anywhere; the classifier's probabilities have many digits.
  return [marker, ...numbers.filter((n) => n.length >= 6)];
}

/** Every byte the signer keeps or writes: its database with WAL and shared memory, and every log of the marketplace. */
function signerFiles(): Buffer {
  const files = readdirSync(m.dataDir)
    .filter((f) => f.startsWith('inference.db'))
    .map((f) => join(m.dataDir, f));
  const logs = join(m.dataDir, 'logs');
  if (existsSync(logs)) files.push(...readdirSync(logs).map((f) => join(logs, f)));
  return Buffer.concat(files.map((f) => readFileSync(f)));
}

/** What the signer answers anyone but the requester about a task: public reads, and a stranger's signed result request. */
async function othersSee(taskId: string): Promise<string> {
  const get = async (path: string, headers: Record<string, string> = {}) =>
    `${path}\n${await (await fetch(`${m.signerUrl}${path}`, { headers })).text()}\n`;
  const resultPath = `/api/v1/tasks/${taskId}/result`;
  const stranger = requesterAuthHeaders('GET', resultPath, 0x80000000, key('wallet_1'));
  const answers = await Promise.all([
    get(`/api/v1/tasks/${taskId}/status?history=true`),
    get(resultPath),
    get(resultPath, stranger),
    get('/api/v1/stats'),
    get('/api/v1/nodes'),
    get('/metrics'),
  ]);
  return answers.join('');
}

describe('the plaintext of an encrypted task never reaches the signer', () => {
  it('finds a standard task’s input and output in the signer’s files, and no trace of an encrypted one’s', async () => {
    const [clearMarker, sealedMarker] = ['0.4242421', '0.1717171'];
    const [standard, encrypted] = await Promise.all([
      market('wallet_5', ['submit', '--model', DEMO_MODEL, '--input', markedInput('clear', clearMarker)]),
      market('wallet_6', [
        'submit',
        '--model',
        DEMO_MODEL,
        '--input',
        markedInput('sealed', sealedMarker),
        '--privacy',
        'encrypted',
      ]),
    ]);
    expect([standard.status, encrypted.status]).toEqual(['settled', 'settled']);
    // The requester reads its output in clear: these are the numbers nobody else may see.
    const opened = await market('wallet_6', ['result', String(encrypted.task_id)]);
    expect(opened.output).toEqual(encrypted.output);
    const clearTraces = betraying(clearMarker, standard);
    const sealedTraces = betraying(sealedMarker, encrypted);
    expect(sealedTraces.length, JSON.stringify(encrypted.output)).toBeGreaterThan(1);

    const stored = signerFiles().toString('latin1');
    for (const trace of clearTraces) expect(stored, `standard trace ${trace}`).toContain(trace);
    for (const trace of sealedTraces) expect(stored, `encrypted trace ${trace}`).not.toContain(trace);

    const seen = await othersSee(String(encrypted.task_id));
    expect(seen).toContain('"privacy":"encrypted"');
    for (const trace of sealedTraces) expect(seen, `encrypted trace ${trace} in an answer`).not.toContain(trace);

    // After the signer and agents stop (the WAL checkpointed into the database), still nothing.
    await m.stop();
    const atRest = signerFiles().toString('latin1');
    for (const trace of sealedTraces) expect(atRest, `encrypted trace ${trace} at rest`).not.toContain(trace);
    expect(atRest).toContain(clearMarker);
  }, 300_000);
});
