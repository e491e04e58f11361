/** How the CLI talks to a person (progress on stderr) or a script (`--json` on stdout). */

/** Printer for one command run. */
export class Output {
  constructor(readonly json: boolean) {}

  /** A progress line, rewritten in place on a terminal; silent in --json mode. */
  progress(text: string): void {
    if (this.json) return;
    if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${text}`);
    else process.stderr.write(`${text}\n`);
  }

  /** Ends a progress line. */
  done(): void {
    if (!this.json && process.stderr.isTTY) process.stderr.write('\n');
  }

  /** The command's result: JSON for scripts, lines for people. */
  result(value: Record<string, unknown>, lines: string[]): void {
    if (this.json) process.stdout.write(`${JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
    else process.stdout.write(`${lines.join('\n')}\n`);
  }
}

/** A bar like `[#####.....] 50%`. */
export function bar(fraction: number, width = 20): string {
  const filled = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}
