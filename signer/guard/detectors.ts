/**
 * Finders of personal data in a string. Each is a regular expression for candidates and, where a
 * number carries one, its checksum (resident ID's ISO 7064 mod 11-2, a card's Luhn), so that order
 * numbers and timestamps are not taken for people. Boundaries are lookarounds, not \b, because \b
 * treats CJK characters as non-word and would not separate "号码13812345678" from its digits anyway.
 */
import { isIPv6 } from 'node:net';
import type { PiiKind } from '../../protocol/index.js';

/** A match: the kind and its [start, end) in the string. */
export interface Span {
  kind: PiiKind;
  start: number;
  end: number;
}

/** An e-mail around its '@': the local part before it, a dotted domain ending in a 2+ letter TLD after it. */
const EMAIL_LOCAL = /[A-Za-z0-9._%+-]+$/;
const EMAIL_DOMAIN = /^[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![A-Za-z0-9-])/;
const CN_ID =
  /(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![0-9A-Za-z])/g;
/** 13 to 19 digits, optionally in groups split by one space or dash, starting as issued cards do (3-6). */
const CARD = /(?<![\d-])[3-6](?:[ -]?\d){12,18}(?![\d-])/g;
const PHONE = new RegExp(
  [
    // Chinese mobile, with an optional +86 / 0086, written whole or 3-4-4.
    String.raw`(?<![\d+])(?:(?:\+|00)86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)`,
    // Chinese landline with its area code: 010-12345678, 0755-1234567.
    String.raw`(?<!\d)0\d{2,3}-\d{7,8}(?!\d)`,
    // International E.164 with a plus: +44 20 7946 0958, +1-415-555-0100.
    String.raw`(?<![\d+])\+[1-9]\d{0,2}(?:[ -]?\d){7,12}(?!\d)`,
    // North American: (415) 555-0100, 415-555-0100.
    String.raw`(?<!\d)(?:\(\d{3}\) ?|\d{3}[-.])\d{3}[-.]\d{4}(?!\d)`,
  ].join('|'),
  'g',
);
const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`(?<![\\d.])(?:${OCTET}\\.){3}${OCTET}(?![\\d]|\\.\\d)`, 'g');
const IPV6 = /(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:])/g;

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = '10X98765432';

/** GB 11643 check character of an 18-character resident ID. */
export function residentIdValid(id: string): boolean {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (id.charCodeAt(i) - 48) * ID_WEIGHTS[i]!;
  return ID_CHECK[sum % 11] === id[17]!.toUpperCase();
}

/** The Luhn check of a digit string. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = digits.length - 1, double = false; i >= 0; i--, double = !double) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function collect(re: RegExp, text: string, kind: PiiKind, keep: (m: string) => boolean, out: Span[]): void {
  re.lastIndex = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (keep(m[0])) out.push({ kind, start: m.index, end: m.index + m[0].length });
  }
}

const always = () => true;

/**
 * E-mails, found from each '@' outwards: a regex scanning for the local part would retry it at
 * every letter of every word, which made e-mail the slowest kind by far.
 */
function collectEmails(text: string, out: Span[]): void {
  let from = 0;
  for (let at = text.indexOf('@'); at !== -1; at = text.indexOf('@', from)) {
    const local = EMAIL_LOCAL.exec(text.slice(Math.max(0, at - 64), at));
    const domain = local ? EMAIL_DOMAIN.exec(text.slice(at + 1, at + 256)) : null;
    if (local && domain) {
      out.push({ kind: 'email', start: at - local[0].length, end: at + 1 + domain[0].length });
      from = at + 1 + domain[0].length;
    } else from = at + 1;
  }
}
const cardDigits = (m: string) => {
  const digits = m.replace(/[ -]/g, '');
  return digits.length >= 13 && digits.length <= 19 && luhnValid(digits);
};

/**
 * Card numbers in the CARD matches. A match can take in a neighbouring number one space or dash
 * away ("room 3 6264 3472 1312 8807"), and then fails Luhn as a whole: the longest stretch of it
 * that starts and ends at a group boundary, starts as cards do and passes Luhn is the card.
 */
function collectCards(text: string, out: Span[]): void {
  CARD.lastIndex = 0;
  for (let m = CARD.exec(text); m; m = CARD.exec(text)) {
    const s = m[0];
    let best: [number, number] | null = cardDigits(s) ? [0, s.length] : null;
    if (!best) {
      const starts = [0];
      const ends = [s.length];
      for (let i = 0; i < s.length; i++)
        if (s[i] === ' ' || s[i] === '-') {
          ends.push(i);
          starts.push(i + 1);
        }
      for (const a of starts)
        for (const b of ends)
          if (b - a > (best ? best[1] - best[0] : 0) && s[a]! >= '3' && s[a]! <= '6' && cardDigits(s.slice(a, b)))
            best = [a, b];
    }
    if (best) out.push({ kind: 'bank_card', start: m.index + best[0], end: m.index + best[1] });
  }
}

/** Seven digits, each pair apart by at most two of ' ().+-': what every ID, card and phone number holds. */
const DIGIT_RUN = /\d(?:[ ().+-]{0,2}\d){6}/;

/** Cheaply: a string shorter than a@b.io, or without '@', a digit or ':', holds none of the kinds. */
const HINT = /[@\d:]/;

/**
 * Finds personal data of the given kinds in `text`. Overlapping matches keep the one found by
 * the stronger evidence (a checksummed ID or card over a phone or an IP), then the longer.
 */
export function findPii(text: string, kinds: ReadonlySet<PiiKind>): Span[] {
  if (text.length < 6 || !HINT.test(text)) return [];
  const spans: Span[] = [];
  const numbers = DIGIT_RUN.test(text);
  if (numbers && kinds.has('cn_id')) collect(CN_ID, text, 'cn_id', residentIdValid, spans);
  if (numbers && kinds.has('bank_card')) collectCards(text, spans);
  if (kinds.has('email')) collectEmails(text, spans);
  if (numbers && kinds.has('phone')) collect(PHONE, text, 'phone', always, spans);
  if (kinds.has('ip')) {
    if (text.includes('.')) collect(IPV4, text, 'ip', always, spans);
    if (text.includes(':'))
      collect(IPV6, text, 'ip', (m) => (m.includes('::') || m.split(':').length === 8 ? isIPv6(m) : false), spans);
  }
  if (spans.length < 2) return spans;
  // Found in order of strength above: a later span that overlaps a kept one is dropped.
  const kept: Span[] = [];
  for (const s of spans) if (!kept.some((k) => s.start < k.end && k.start < s.end)) kept.push(s);
  return kept.sort((a, b) => a.start - b.start);
}
