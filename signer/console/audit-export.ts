/**
 * The audit log's downloads: CSV (RFC 4180) and JSON, streamed a batch at a time. CSV is written
 * here rather than with a package: the whole of RFC 4180 quoting is the few lines of `csvField`,
 * the rows are flat (no nesting, no types to infer), and the tests read the file back with the
 * edge cases (commas, quotes, line breaks, formula-like text) that a writer must get right.
 */
import { AUDIT_COLUMNS, type AuditEntry } from './audit.js';

/** The two download formats and what they are served as. */
export const EXPORT_FORMATS = {
  csv: 'text/csv; charset=utf-8',
  json: 'application/json; charset=utf-8',
} as const;
export type ExportFormat = keyof typeof EXPORT_FORMATS;

const NEEDS_QUOTES = /[",\r\n]/;
/** A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection"). */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV field: quoted (with its quotes doubled) when it holds a quote, a comma or a line break.
 * Text that a spreadsheet would run as a formula gets a leading `'` (model names come from the
 * chain, where anyone can register one), so opening the export never runs what a caller wrote.
 */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** An entry as exported: its time as ISO 8601 (UTC) instead of milliseconds. */
function exported(e: AuditEntry): Record<(typeof AUDIT_COLUMNS)[number], string | number | null> {
  return { ...e, at: new Date(e.at).toISOString() };
}

const csvLine = (fields: (string | number | null)[]) => `${fields.map(csvField).join(',')}\r\n`;

/** The text of one batch in `format`; `first` says whether it starts the file. */
function chunk(format: ExportFormat, batch: AuditEntry[], first: boolean): string {
  if (format === 'csv') return batch.map((e) => csvLine(AUDIT_COLUMNS.map((k) => exported(e)[k]))).join('');
  return batch.map((e, i) => `${first && i === 0 ? '' : ',\n'}${JSON.stringify(exported(e))}`).join('');
}

/**
 * The export file, pulled from `batches` as the client reads: CSV with a header line, or a JSON
 * array of entries. Each batch is read only when the previous one has been taken.
 */
export function exportStream(format: ExportFormat, batches: Iterator<AuditEntry[]>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let first = true;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(format === 'csv' ? csvLine([...AUDIT_COLUMNS]) : '[\n'));
    },
    pull(controller) {
      const next = batches.next();
      if (next.done) {
        if (format === 'json') controller.enqueue(encoder.encode('\n]\n'));
        controller.close();
        return;
      }
      controller.enqueue(encoder.encode(chunk(format, next.value, first)));
      first = false;
    },
  });
}

/** The file name a download is saved under: the log, the filters, and the time (`guard-audit_rule-email_20261207T0805Z.csv`). */
export function exportFileName(format: ExportFormat, filters: Record<string, unknown>, now = Date.now()): string {
  const parts = Object.entries(filters)
    .filter(([, v]) => v !== undefined)
    .map(
      ([k, v]) =>
        `${k}-${String(v)
          .slice(0, 40)
          .replace(/[^A-Za-z0-9._-]/g, '_')}`,
    );
  const stamp = new Date(now).toISOString().replace(/[-:]/g, '').slice(0, 13);
  return `${['guard-audit', ...parts, stamp].join('_')}Z.${format}`;
}
