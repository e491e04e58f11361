/**
 * bench/privacy.ts's guard inputs: deterministic ~1 KB OIP JSON requests whose BYTES strings mix
 * clean text (with the digits, dots, colons and '@' of ordinary text, so the guard's cheap hints do
 * not skip them) and, in half of them, one piece of personal data of one kind, valid where the kind
 * has a checksum (resident ID, card), so the guard must find it.
 */
import { luhnValid, residentIdValid } from '../signer/guard/index.js';
import { PII_KINDS, type PiiKind } from '../protocol/index.js';

/** One corpus input: its JSON text and what was planted in it. */
export interface CorpusInput {
  kind: PiiKind | 'clean';
  json: string;
}

/** mulberry32: the same corpus on every run. */
export function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const digits = (r: () => number, n: number) => Array.from({ length: n }, () => Math.floor(r() * 10)).join('');

const CLEAN = [
  'Order 2024-118 shipped on 12/03 at 14:30, tracking ref A7-55 (3 parcels).',
  '请在 10:45 前提交第 3 季度报告，版本 v2.4.1，共 12 页。',
  'The meeting moved to room 4.12; bring the Q3 figures (revenue up 7.5%).',
  'Invoice total 1,284.50 EUR, due in 30 days; see section 2.1 of the contract.',
  'Sensor 17 read 23.4 C at 06:00 and 25.1 C at 09:00, within range.',
  '用户反馈：应用在 iOS 17.2 上启动需要 3 秒，比上一版本慢。',
  'Build 5812 passed 412 of 415 tests; the 3 failures are flaky on CI.',
  'Send feedback to the support team @ the help desk, ticket #88213.',
];

/** Personal data of `kind`, generated (IDs and cards with a valid checksum). */
function pii(kind: PiiKind, r: () => number): string {
  switch (kind) {
    case 'email':
      return `${['li.wei', 'j.smith', 'anna_k', 'chen+news'][Math.floor(r() * 4)]}${digits(r, 2)}@example${['.com', '.cn', '.co.uk'][Math.floor(r() * 3)]}`;
    case 'phone':
      return [`13${digits(r, 9)}`, `+44 20 ${digits(r, 4)} ${digits(r, 4)}`, `(415) 555-${digits(r, 4)}`][
        Math.floor(r() * 3)
      ]!;
    case 'cn_id':
      for (;;) {
        const id = `110105${1950 + Math.floor(r() * 60)}${String(1 + Math.floor(r() * 12)).padStart(2, '0')}${String(1 + Math.floor(r() * 28)).padStart(2, '0')}${digits(r, 3)}`;
        const full = [...'0123456789X'].map((c) => id + c).find(residentIdValid);
        if (full) return full;
      }
    case 'bank_card':
      for (;;) {
        const body = `62${digits(r, 13)}`;
        const card = [...'0123456789'].map((c) => body + c).find(luhnValid);
        if (card) return card.replace(/(\d{4})(?=\d)/g, '$1 ');
      }
    case 'ip':
      return r() < 0.7
        ? `10.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${1 + Math.floor(r() * 254)}`
        : `2001:db8::${Math.floor(r() * 65535).toString(16)}:7334`;
  }
}

/** An OIP request of about 1 KB: a BYTES tensor of text lines, a short FP32 tensor, and a parameter. */
function request(r: () => number, planted: string | null): string {
  const lines: string[] = [];
  const at = Math.floor(r() * 4);
  let size = 0;
  for (let i = 0; size < 690; i++) {
    let line = CLEAN[Math.floor(r() * CLEAN.length)]!;
    // Planted apart from the line's own digits: a card number with a digit one space away reads as a longer number.
    if (planted !== null && i === at) line = `${line.slice(0, -1)} (from ${planted}).`;
    lines.push(line);
    size += Buffer.byteLength(line) + 3;
  }
  const scores = Array.from({ length: 16 }, () => Number((r() * 2 - 1).toFixed(4)));
  return JSON.stringify({
    id: `req-${digits(r, 6)}`,
    inputs: [
      { name: 'text', shape: [lines.length], datatype: 'BYTES', data: lines },
      { name: 'scores', shape: [scores.length], datatype: 'FP32', data: scores },
    ],
    parameters: { language: r() < 0.5 ? 'en' : 'zh', note: 'batch 7 of 12' },
  });
}

/** `n` inputs: every other one clean, the rest cycling through each kind of personal data. */
export function guardCorpus(n: number): CorpusInput[] {
  const r = rng(14);
  return Array.from({ length: n }, (_, i) => {
    if (i % 2 === 0) return { kind: 'clean', json: request(r, null) };
    const kind = PII_KINDS[((i - 1) / 2) % PII_KINDS.length]!;
    return { kind, json: request(r, pii(kind, r)) };
  });
}
