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
/**
 * Luhn over the digits of text[a, b), skipping the group separators CARD lets in: a card if it holds
 * 13 to 19 digits and passes. No substring or array is made, as this runs on every CARD match.
 */
function cardAt(text: string, a: number, b: number): boolean {
  let sum = 0;
  let n = 0;
  for (let i = b - 1, double = false; i >= a; i--) {
    let d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) continue;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    n++;
    double = !double;
  }
  return n >= 13 && n <= 19 && sum % 10 === 0;
}

/** Where the separators of the current CARD match are (at most 18 of them: one between each two digits). */
const seps = new Int32Array(20);

/**
 * Card numbers in the CARD matches. A match can take in a neighbouring number one space or dash
 * away ("room 3 6264 3472 1312 8807"), and then fails Luhn as a whole: the longest stretch of it
 * that starts and ends at a group boundary, starts as cards do and passes Luhn is the card (the
 * first such from the left when two are as long).
 */
function collectCards(text: string, out: Span[]): void {
  CARD.lastIndex = 0;
  for (let m = CARD.exec(text); m; m = CARD.exec(text)) {
    const start = m.index;
    const end = start + m[0].length;
    if (cardAt(text, start, end)) {
      out.push({ kind: 'bank_card', start, end });
      continue;
    }
    let n = 0;
    for (let i = start; i < end; i++) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 45) seps[n++] = i;
    }
    if (n === 0) continue;
    // Stretches [a, b): a is the match's start or just after a separator, b a separator or the match's end.
    let bestA = -1;
    let bestB = -1;
    for (let ia = -1; ia < n; ia++) {
      const a = ia < 0 ? start : seps[ia]! + 1;
      const first = text.charCodeAt(a);
      if (first < 51 || first > 54) continue; // '3' to '6'
      for (let ib = ia < 0 ? n - 1 : n; ib >= 0; ib--) {
        // The whole match (ia < 0, ib = n) failed above.
        const b = ib === n ? end : seps[ib]!;
        if (b - a <= bestB - bestA) break;
        if (cardAt(text, a, b)) {
          bestA = a;
          bestB = b;
          break;
        }
      }
    }
    if (bestA >= 0) out.push({ kind: 'bank_card', start: bestA, end: bestB });
  }
}

// What a string must hold for each kind to be searched for at all (see possibleKinds).
const MAY_ID = 1;
const MAY_CARD = 2;
const MAY_PHONE = 4;
const MAY_EMAIL = 8;
const MAY_IPV4 = 16;
const MAY_IPV6 = 32;
const MAY_ALL = 63;

/**
 * One pass over the string's characters that tells which kinds it could hold, so that a string
 * with none runs no regular expression. Each test is a condition every match of that kind meets:
 * - a resident ID is 17 digits in a row (then a digit or X);
 * - a card is 13 or more digits, at most one space or dash between two (CARD);
 * - a phone number is 10 or more digits with at most two of ' ().-' between two (a Chinese mobile
 *   or landline, "(415) 555-0100", "415.555.0100"), or, after a '+', 8 or more with at most one
 *   space or dash between two (+[1-9] and 7 more);
 * - an e-mail has an '@';
 * - an IPv4 address is a stretch of digits and dots holding three dots;
 * - an IPv6 address (with '::' or 8 groups, as kept) is a stretch of hex digits and colons holding two colons.
 */
export function possibleKinds(text: string): number {
  let may = 0;
  let idRun = 0;
  let cardRun = 0;
  let cardGap = 2;
  let plus = false;
  let phoneRun = 0;
  let phoneGap = 3;
  let v4Dots = -1;
  let v6Colons = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (++idRun >= 17) may |= MAY_ID;
      cardRun = cardGap <= 1 ? cardRun + 1 : 1;
      cardGap = 0;
      if (cardRun >= 13) may |= MAY_CARD;
      phoneRun = phoneGap <= 2 ? phoneRun + 1 : 1;
      phoneGap = 0;
      if (phoneRun >= 10 || (plus && cardRun >= 8)) may |= MAY_PHONE;
      if (v4Dots < 0) v4Dots = 0;
      if (v6Colons < 0) v6Colons = 0;
      continue;
    }
    if ((c >= 103 && c <= 122) || (c >= 71 && c <= 90) || c > 127) {
      // g-z, G-Z and anything past ASCII (most of a text): none of the kinds' characters, ends every run.
      idRun = 0;
      cardGap = 2;
      phoneGap = 3;
      v4Dots = -1;
      v6Colons = -1;
      continue;
    }
    idRun = 0;
    if (c === 32 || c === 45) {
      cardGap++;
      phoneGap++;
    } else {
      cardGap = 2;
      phoneGap = c === 40 || c === 41 || c === 46 ? phoneGap + 1 : 3; // ( ) .
      if (c === 43) plus = true;
    }
    if (c === 46) {
      if (v4Dots >= 0 && ++v4Dots >= 3) may |= MAY_IPV4;
      if (v4Dots < 0) v4Dots = 0;
    } else v4Dots = -1;
    if (c === 58) {
      v6Colons = v6Colons < 0 ? 1 : v6Colons + 1;
      if (v6Colons >= 2) may |= MAY_IPV6;
    } else if ((c >= 65 && c <= 70) || (c >= 97 && c <= 102)) {
      if (v6Colons < 0) v6Colons = 0;
    } else v6Colons = -1;
    if (c === 64) may |= MAY_EMAIL;
    if (may === MAY_ALL) break;
  }
  return may;
}

/** What most strings hold: one empty result, not a new array per string. */
const NONE: readonly Span[] = Object.freeze([]);

/**
 * Finds personal data of the given kinds in `text`. Overlapping matches keep the one found by
 * the stronger evidence (a checksummed ID or card over a phone or an IP), then the longer.
 */
export function findPii(text: string, kinds: ReadonlySet<PiiKind>, prefilter = true): readonly Span[] {
  if (text.length < 6) return NONE;
  // Without the pre-filter (tests compare the two), every kind's expression runs.
  const may = prefilter ? possibleKinds(text) : MAY_ALL;
  if (may === 0) return NONE;
  const spans: Span[] = [];
  if (may & MAY_ID && kinds.has('cn_id')) collect(CN_ID, text, 'cn_id', residentIdValid, spans);
  if (may & MAY_CARD && kinds.has('bank_card')) collectCards(text, spans);
  if (may & MAY_EMAIL && kinds.has('email')) collectEmails(text, spans);
  if (may & MAY_PHONE && kinds.has('phone')) collect(PHONE, text, 'phone', always, spans);
  if (kinds.has('ip')) {
    if (may & MAY_IPV4) collect(IPV4, text, 'ip', always, spans);
    if (may & MAY_IPV6)
      collect(IPV6, text, 'ip', (m) => (m.includes('::') || m.split(':').length === 8 ? isIPv6(m) : false), spans);
  }
  if (spans.length < 2) return spans;
  // Found in order of strength above: a later span that overlaps a kept one is dropped.
  const kept: Span[] = [];
  for (const s of spans) if (!kept.some((k) => s.start < k.end && k.start < s.end)) kept.push(s);
  return kept.sort((a, b) => a.start - b.start);
}
