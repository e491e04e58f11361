/** The agent's logs: JSON lines by default (not a terminal), pino-pretty's readable lines on a terminal. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { agentLogger } from '../../node-agent/log.js';

function capture(tty: boolean): string {
  const out = new PassThrough();
  const chunks: string[] = [];
  out.on('data', (c: Buffer) => chunks.push(c.toString()));
  agentLogger({ tty, destination: out }).info({ task_id: '7' }, 'task completed');
  return chunks.join('');
}

describe('agent logs', () => {
  it('are JSON lines when stdout is not a terminal', () => {
    const line = capture(false);
    expect(JSON.parse(line)).toMatchObject({ level: 30, name: 'node-agent', task_id: '7', msg: 'task completed' });
  });

  it('are pretty on a terminal', () => {
    const text = capture(true);
    expect(text).toMatch(/INFO.*\(node-agent\/\d+\).*: task completed/);
    expect(text).toMatch(/task_id: "7"/);
    expect(() => JSON.parse(text)).toThrow();
  });
});
