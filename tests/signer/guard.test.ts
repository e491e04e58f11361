import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DATA_LEVELS, PII_KINDS, type PiiKind } from '../../protocol/index.js';
import {
  findPii,
  guardConfigSchema,
  luhnValid,
  maskTag,
  PolicyGuard,
  residentIdValid,
} from '../../signer/guard/index.js';
import { loadConfig } from '../../signer/index.js';

const ALL = new Set<PiiKind>(PII_KINDS);
const found = (text: string) => findPii(text, ALL).map((s) => ({ kind: s.kind, value: text.slice(s.start, s.end) }));

/** Each row: a text and exactly what the guard must find in it. */
const TRUE_POSITIVES: [string, PiiKind, string][] = [
  ['write to li.wei+work@example.com.cn today', 'email', 'li.wei+work@example.com.cn'],
  ['联系邮箱：zhang_san@qq.com。', 'email', 'zhang_san@qq.com'],
  ['电话13812345678请回电', 'phone', '13812345678'],
  ['call +86 138 1234 5678', 'phone', '+86 138 1234 5678'],
  ['office 010-12345678 ext 2', 'phone', '010-12345678'],
  ['London +44 20 7946 0958.', 'phone', '+44 20 7946 0958'],
  ['US (415) 555-0100', 'phone', '(415) 555-0100'],
  ['身份证号11010519491231002X，', 'cn_id', '11010519491231002X'],
  ['id 440301199003071230', 'cn_id', '440301199003071230'],
  ['card 4111 1111 1111 1111 exp 12/29', 'bank_card', '4111 1111 1111 1111'],
  ['银行卡6222020200000005', 'bank_card', '6222020200000005'],
  ['UnionPay 6217001234567890122', 'bank_card', '6217001234567890122'],
  // A neighbouring number one space or dash away is not part of the card (the whole run fails Luhn).
  ['room 3 4111 1111 1111 1111', 'bank_card', '4111 1111 1111 1111'],
  ['4111-1111-1111-1111 5 items', 'bank_card', '4111-1111-1111-1111'],
  ['from 192.168.1.10 at noon', 'ip', '192.168.1.10'],
  ['v6 2001:db8::8a2e:370:7334 here', 'ip', '2001:db8::8a2e:370:7334'],
];

/** Texts that look like personal data to a careless rule and are not. */
const FALSE_POSITIVES: string[] = [
  'user at example dot com',
  'follow @stacks on the feed',
  'price@10 each',
  'order 12345678901 shipped', // 11 digits, but no mobile starts with 12
  'timestamp 1701234567890',
  'serial 20231205123456789',
  'id 110105194912310021', // resident ID shape, wrong check character
  'id 110105194913310029', // month 13
  'card 4111 1111 1111 1112', // fails Luhn
  'ref 7111111111111114', // Luhn-valid, but no card starts with 7
  'version 1.2.3 released',
  'host 999.1.1.1 is not an address',
  'semver 1.2.3.4.5',
  'meeting at 12:30:45',
  'ratio 3:4:5',
  '日期2024-01-05，金额1,234.56元',
  'hash 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
];

describe('the guard finds personal data', () => {
  it.each(TRUE_POSITIVES)('in %j: %s', (text, kind, value) => {
    expect(found(text)).toEqual([{ kind, value }]);
  });

  it.each(FALSE_POSITIVES)('and nothing in %j', (text) => {
    expect(found(text)).toEqual([]);
  });

  it('finds several kinds in one text, in order, and an e-mail made of a phone number once', () => {
    const text = 'a@b.io, 13812345678@139.com, 13900001111, 10.0.0.1';
    expect(found(text)).toEqual([
      { kind: 'email', value: 'a@b.io' },
      { kind: 'email', value: '13812345678@139.com' },
      { kind: 'phone', value: '13900001111' },
      { kind: 'ip', value: '10.0.0.1' },
    ]);
  });

  it('finds an e-mail after an @ that starts the text', () => {
    expect(found('@team: write to ops@example.org')).toEqual([{ kind: 'email', value: 'ops@example.org' }]);
  });

  it('finds the shortest of each kind the pre-filter lets through', () => {
    expect(found('+12345678')).toEqual([{ kind: 'phone', value: '+12345678' }]);
    expect(found('visa 4222222222222')).toEqual([{ kind: 'bank_card', value: '4222222222222' }]);
    expect(found('a@b.io')).toEqual([{ kind: 'email', value: 'a@b.io' }]);
    expect(found('at 1.2.3.4')).toEqual([{ kind: 'ip', value: '1.2.3.4' }]);
    expect(found('lo ::ffff')).toEqual([{ kind: 'ip', value: '::ffff' }]);
    expect(found('1:2:3:4:5:6:7:8')).toEqual([{ kind: 'ip', value: '1:2:3:4:5:6:7:8' }]);
    expect(found('mac? ab:cd:ef:ab:cd:ef:ab:cd')).toEqual([{ kind: 'ip', value: 'ab:cd:ef:ab:cd:ef:ab:cd' }]);
  });

  it('finds each of two cards one space apart, and a card between two other numbers', () => {
    expect(found('4111 1111 1111 1111 6222020200000005')).toEqual([
      { kind: 'bank_card', value: '4111 1111 1111 1111' },
      { kind: 'bank_card', value: '6222020200000005' },
    ]);
    expect(found('lot 3 4111 1111 1111 1111 5 left')).toEqual([{ kind: 'bank_card', value: '4111 1111 1111 1111' }]);
  });

  it('its pre-filter skips nothing: with it and without it, the same findings in texts dense with near misses', () => {
    // Planted values (each kind, at the shortest the kinds allow) among digits, separators and
    // letters that make numbers run into each other: what the pre-filter's counts must not miss.
    const planted = [
      ...TRUE_POSITIVES.map(([, , value]) => value),
      '+12345678',
      '4222222222222',
      '1.2.3.4',
      '::ffff',
      '1:2:3:4:5:6:7:8',
      'ab:cd:ef:ab:cd:ef:ab:cd',
      'AB:CD:EF:AB:CD:EF:AB:CD',
      '415.555.0100',
    ];
    const noise = '0123456789012345678901234567890123456789 -().+.:@xXabcdefABCDEFghij号码,;/_';
    let seed = 14;
    const rand = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const kinds = [ALL, ...PII_KINDS.map((k) => new Set<PiiKind>([k]))];
    const seen = new Set<PiiKind>();
    for (let n = 0; n < 3000; n++) {
      let text = '';
      for (let i = Math.floor(rand() * 40); i > 0; i--) {
        const x = rand();
        if (x < 0.08) text += planted[Math.floor(rand() * planted.length)];
        else if (x < 0.15) text += String(Math.floor(rand() * 1e15)).slice(0, 1 + Math.floor(rand() * 15));
        else text += noise[Math.floor(rand() * noise.length)];
      }
      for (const k of kinds) {
        const spans = findPii(text, k);
        expect(spans, text).toEqual(findPii(text, k, false));
        for (const s of spans) seen.add(s.kind);
      }
    }
    expect([...seen].sort()).toEqual([...PII_KINDS].sort());
  });

  it('looks only for the configured kinds', () => {
    expect(findPii('mail a@b.io from 10.0.0.1', new Set<PiiKind>(['ip'])).map((s) => s.kind)).toEqual(['ip']);
  });

  it('checks resident IDs with GB 11643 and cards with Luhn', () => {
    expect(residentIdValid('11010519491231002X')).toBe(true);
    expect(residentIdValid('110105194912310021')).toBe(false);
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
  });
});

const config = guardConfigSchema.parse({});
const input = {
  inputs: [{ name: 'text', shape: [2], datatype: 'BYTES', data: ['mail zhang_san@qq.com now', 'no personal data'] }],
  parameters: { 'caller ip': '203.0.113.7', note: 'card 4111 1111 1111 1111' },
};

describe('the policy of each data level', () => {
  const guard = new PolicyGuard(config);

  it('L0 lets personal data pass and still reports where it was', () => {
    const verdict = guard.check(input, 'L0');
    expect(verdict.action).toBe('pass');
    expect(verdict.value).toBe(input);
    expect(verdict.findings).toEqual([
      { rule: 'email', path: '$.inputs[0].data[0]', action: 'pass' },
      { rule: 'ip', path: '$.parameters["caller ip"]', action: 'pass' },
      { rule: 'bank_card', path: '$.parameters.note', action: 'pass' },
    ]);
  });

  it('L1 masks it with a tag and leaves the input it was given unchanged', () => {
    const before = JSON.stringify(input);
    const verdict = guard.check(input, 'L1');
    expect(verdict.action).toBe('mask');
    expect(verdict.value).toEqual({
      inputs: [
        { name: 'text', shape: [2], datatype: 'BYTES', data: [`mail ${maskTag('email')} now`, 'no personal data'] },
      ],
      parameters: { 'caller ip': maskTag('ip'), note: `card ${maskTag('bank_card')}` },
    });
    expect(JSON.stringify(input)).toBe(before);
    expect(verdict.findings.map((f) => f.action)).toEqual(['mask', 'mask', 'mask']);
  });

  it('L2 refuses it, naming each field', () => {
    const verdict = guard.check(input, 'L2');
    expect(verdict.action).toBe('refuse');
    expect(verdict.value).toBe(input);
    expect(verdict.findings.map((f) => `${f.rule} at ${f.path}`)).toEqual([
      'email at $.inputs[0].data[0]',
      'ip at $.parameters["caller ip"]',
      'bank_card at $.parameters.note',
    ]);
  });

  it('every level passes an input without personal data as it is', () => {
    const clean = { inputs: [{ name: 'x', shape: [3], datatype: 'FP32', data: [0.5, 192.168, 1] }] };
    for (const level of DATA_LEVELS)
      expect(guard.check(clean, level)).toEqual({ action: 'pass', findings: [], value: clean });
  });

  it('guards plain text too', () => {
    expect(guard.check('ring 13812345678', 'L1')).toMatchObject({ action: 'mask', value: `ring ${maskTag('phone')}` });
  });

  it('a per-kind rule overrides the level: mask e-mails at L2 but refuse resident IDs at L1', () => {
    const custom = new PolicyGuard(
      guardConfigSchema.parse({
        L1: { action: 'mask', rules: { cn_id: 'refuse' } },
        L2: { action: 'refuse', rules: { email: 'mask' } },
      }),
    );
    expect(custom.check('a@b.io', 'L2')).toMatchObject({ action: 'mask', value: maskTag('email') });
    expect(custom.check('a@b.io 11010519491231002X', 'L1').action).toBe('refuse');
  });

  it('reads object keys too: a key that holds personal data is a finding, masked as a key, and never in a path', () => {
    const keyed = { parameters: { 'li.si@example.cn': 'call 13812345678', 'caller ip': 'none' } };
    const refused = guard.check(keyed, 'L2');
    expect(refused.action).toBe('refuse');
    expect(refused.findings).toEqual([
      { rule: 'email', path: '$.parameters["[email]"]', action: 'refuse' },
      { rule: 'phone', path: '$.parameters["[email]"]', action: 'refuse' },
    ]);
    const masked = guard.check(keyed, 'L1');
    expect(masked.value).toEqual({ parameters: { '[email]': `call ${maskTag('phone')}`, 'caller ip': 'none' } });
    expect(Object.keys((masked.value as typeof keyed).parameters)).toEqual(['[email]', 'caller ip']);
    // L0 lets it pass, as it is, and the audit path still hides the key.
    const passed = guard.check(keyed, 'L0');
    expect(passed.value).toBe(keyed);
    expect(JSON.stringify(passed.findings)).not.toContain('li.si');
  });

  it('masks the value of a "__proto__" key as a key, not by setting a prototype', () => {
    const doc = JSON.parse('{"__proto__": "mail a@b.io", "x": 1}');
    const { value } = guard.check(doc, 'L1');
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(JSON.stringify(value)).toBe(`{"__proto__":"mail ${maskTag('email')}","x":1}`);
  });

  it('disabled, it passes everything and reports nothing', () => {
    const off = new PolicyGuard(guardConfigSchema.parse({ enabled: false }));
    expect(off.check(input, 'L2')).toEqual({ action: 'pass', findings: [], value: input });
  });

  it("takes its rules from signer.toml's [guard]: kinds, levels' actions and per-kind rules", () => {
    const path = join(mkdtempSync(join(tmpdir(), 'guard-toml-')), 'signer.toml');
    writeFileSync(
      path,
      ['[guard]', 'kinds = ["email", "cn_id"]', 'L1 = { action = "pass", rules = { cn_id = "refuse" } }', ''].join(
        '\n',
      ),
    );
    const fromToml = new PolicyGuard(loadConfig(path, {}, {}).guard);
    expect(fromToml.check('a@b.io', 'L1')).toMatchObject({ action: 'pass', findings: [{ rule: 'email' }] });
    expect(fromToml.check('id 11010519491231002X', 'L1').action).toBe('refuse');
    // Kinds left out are not looked for; L2 keeps its default (refuse).
    expect(fromToml.check('ring 13812345678', 'L2').findings).toEqual([]);
    expect(fromToml.check('a@b.io', 'L2').action).toBe('refuse');
  });

  it('refuses a configuration it does not understand, naming the key', () => {
    expect(() => guardConfigSchema.parse({ L3: { action: 'mask' } })).toThrow(/L3/);
    expect(() => guardConfigSchema.parse({ L1: { action: 'hide' } })).toThrow(/pass|mask|refuse/);
    expect(() => guardConfigSchema.parse({ kinds: ['passport'] })).toThrow(/email/);
  });
});
