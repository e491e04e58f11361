/**
 * The real signer on its own thread, so that timing measured in the agent's thread is the
 * agent's alone. The test thread asks it (postMessage) to add tasks the way the chain watcher
 * does and to read task rows; everything else goes over HTTP like in production.
 */
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import { startSigner, type SignerConfigInput } from '../../signer/index.js';
import { ingest } from '../../signer/chain/watcher.js';
import { getTask } from '../../signer/tasks/state.js';

const signer = await startSigner({
  config: workerData as SignerConfigInput,
  chain: null,
  log: pino({ level: 'silent' }),
});
let eventIndex = 0;

type Request =
  | { id: number; op: 'ingest'; chainTaskId: string; artifactHash: string; inputHash: string }
  | { id: number; op: 'task'; taskId: string }
  | { id: number; op: 'close' };

parentPort!.on('message', async (m: Request) => {
  if (m.op === 'ingest') {
    const id = BigInt(m.chainTaskId);
    ingest(
      signer.services,
      [
        {
          chainTaskId: id,
          requester: 'ST2CY5V39NHDPWSXMW9QDT3HC3GD6Q6XX4CFRK9AG',
          modelOutput: 1n,
          model: 'ppocr',
          artifactHash: m.artifactHash,
          inputHash: m.inputHash,
          fee: 1000n,
          deadline: 1_000_000n,
          privacy: 0,
          priority: 0,
          security: 1,
          precision: 0,
          sampleBps: 0,
          txid: `0x${m.chainTaskId.padStart(64, '0')}`,
          blockHeight: 1,
          eventIndex: eventIndex++,
        },
      ],
      null,
    );
    parentPort!.postMessage({ id: m.id, result: null });
  } else if (m.op === 'task') {
    parentPort!.postMessage({ id: m.id, result: getTask(signer.services.store, m.taskId) ?? null });
  } else {
    await signer.close();
    parentPort!.postMessage({ id: m.id, result: null });
  }
});
parentPort!.postMessage({
  ready: { url: signer.url, escrow: signer.services.escrow, chainId: signer.services.chainId },
});
