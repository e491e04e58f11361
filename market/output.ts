/** How the CLI talks to a person (progress on stderr) or a script (`--json` on stdout). */

/** Printer for one command run. */
export class Output {
  /**
   * `tty`: whether progress goes to a terminal (stderr's, by default). Progress is for people: piped
   * or redirected, a line per poll would only bury the result, so it is printed on a terminal only.
   */
  constructor(
    readonly json: boolean,
    readonly tty: boolean = process.stderr.isTTY === true,
  ) {}

  /** A progress line, rewritten in place on a terminal; silent in --json mode and when not on a terminal. */
  progress(text: string): void {
    if (this.json || !this.tty) return;
    process.stderr.write(`\r\x1b[2K${text}`);
  }

  /** Ends a progress line. */
  done(): void {
    if (!this.json && this.tty) process.stderr.write('\n');
  }

  /** The command's result: JSON for scripts, lines for people. */
  result(value: Record<string, unknown>, lines: string[]): void {
    if (this.json)
      process.stdout.write(`${JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
    else process.stdout.write(`${lines.join('\n')}\n`);
  }
}

/** A bar like `[#####.....] 50%`. */
export function bar(fraction: number, width = 20): string {
  const filled = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}
