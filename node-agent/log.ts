/**
 * The agent's logger. JSON lines are for machines (a log collector, `| jq`), so they stay the
 * default; an operator watching the agent in a terminal gets pino-pretty's readable lines instead.
 */
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

/** Where and how the logger writes; the defaults are the process's stdout and whether it is a terminal. */
export interface AgentLogOptions {
  /** Pretty lines when true, JSON lines when false. */
  tty?: boolean;
  destination?: NodeJS.WritableStream;
}

/** A pino logger named `node-agent`: pretty on a terminal, JSON lines otherwise. */
export function agentLogger(opts: AgentLogOptions = {}): Logger {
  const tty = opts.tty ?? process.stdout.isTTY === true;
  const destination = opts.destination ?? process.stdout;
  if (!tty) return pino({ name: 'node-agent' }, destination);
  // In-process and synchronous: a terminal is slow anyway, and a worker thread would lose the last lines on exit.
  // Colours only on the process's own terminal, not into a stream the caller handed over.
  return pino(
    { name: 'node-agent' },
    pretty({ destination, sync: true, colorize: opts.destination ? false : undefined }),
  );
}
