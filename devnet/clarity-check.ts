/**
 * Checks Clarity values against a contract ABI's argument types before anything runs: the node
 * rejects ill-typed calls at mempool admission (`BadFunctionArgument`), and simnet would instead
 * consume a block on them.
 */
import { type ClarityValue, ClarityType, cvToString } from '@stacks/transactions';

type AbiType =
  | string
  | { buffer: { length: number } }
  | { 'string-ascii': { length: number } }
  | { 'string-utf8': { length: number } }
  | { optional: AbiType }
  | { response: { ok: AbiType; error: AbiType } }
  | { list: { type: AbiType; length: number } }
  | { tuple: { name: string; type: AbiType }[] };

/** Renders an ABI type the way Clarity spells it, for error messages. */
export function abiTypeToString(t: unknown): string {
  const a = t as AbiType;
  if (typeof a === 'string') return a.replace(/128$/, '');
  if ('buffer' in a) return `(buff ${a.buffer.length})`;
  if ('string-ascii' in a) return `(string-ascii ${a['string-ascii'].length})`;
  if ('string-utf8' in a) return `(string-utf8 ${a['string-utf8'].length})`;
  if ('optional' in a) return `(optional ${abiTypeToString(a.optional)})`;
  if ('response' in a) return `(response ${abiTypeToString(a.response.ok)} ${abiTypeToString(a.response.error)})`;
  if ('list' in a) return `(list ${a.list.length} ${abiTypeToString(a.list.type)})`;
  if ('tuple' in a) return `{${a.tuple.map((f) => `${f.name}: ${abiTypeToString(f.type)}`).join(', ')}}`;
  return JSON.stringify(a);
}

/** Returns null when `v` fits `t`, else a message saying what is wrong. */
export function checkValue(v: ClarityValue, t: unknown, path: string): string | null {
  const a = t as AbiType;
  const bad = () => `${path}: expected ${abiTypeToString(a)}, got ${cvToString(v).slice(0, 120)}`;
  if (typeof a === 'string') {
    switch (a) {
      case 'uint128':
        return v.type === ClarityType.UInt ? null : bad();
      case 'int128':
        return v.type === ClarityType.Int ? null : bad();
      case 'bool':
        return v.type === ClarityType.BoolTrue || v.type === ClarityType.BoolFalse ? null : bad();
      case 'principal':
      case 'trait_reference':
        return v.type === ClarityType.PrincipalStandard || v.type === ClarityType.PrincipalContract ? null : bad();
      default:
        return `${path}: unsupported argument type ${a}`;
    }
  }
  if ('buffer' in a) {
    if (v.type !== ClarityType.Buffer) return bad();
    return v.value.length / 2 <= a.buffer.length
      ? null
      : `${path}: buffer of ${v.value.length / 2} bytes exceeds ${abiTypeToString(a)}`;
  }
  if ('string-ascii' in a) {
    if (v.type !== ClarityType.StringASCII) return bad();
    return v.value.length <= a['string-ascii'].length
      ? null
      : `${path}: string of ${v.value.length} characters exceeds ${abiTypeToString(a)}`;
  }
  if ('string-utf8' in a) {
    if (v.type !== ClarityType.StringUTF8) return bad();
    const n = [...v.value].length;
    return n <= a['string-utf8'].length ? null : `${path}: string of ${n} characters exceeds ${abiTypeToString(a)}`;
  }
  if ('optional' in a) {
    if (v.type === ClarityType.OptionalNone) return null;
    return v.type === ClarityType.OptionalSome ? checkValue(v.value, a.optional, `${path}.some`) : bad();
  }
  if ('response' in a) {
    if (v.type === ClarityType.ResponseOk) return checkValue(v.value, a.response.ok, `${path}.ok`);
    if (v.type === ClarityType.ResponseErr) return checkValue(v.value, a.response.error, `${path}.err`);
    return bad();
  }
  if ('list' in a) {
    if (v.type !== ClarityType.List) return bad();
    if (v.value.length > a.list.length) return `${path}: list of ${v.value.length} items exceeds ${abiTypeToString(a)}`;
    for (let i = 0; i < v.value.length; i++) {
      const e = checkValue(v.value[i], a.list.type, `${path}[${i}]`);
      if (e) return e;
    }
    return null;
  }
  if ('tuple' in a) {
    if (v.type !== ClarityType.Tuple) return bad();
    const keys = Object.keys(v.value);
    if (keys.length !== a.tuple.length)
      return `${path}: expected fields ${a.tuple.map((f) => f.name).join(', ')}, got ${keys.join(', ')}`;
    for (const f of a.tuple) {
      const fv = v.value[f.name];
      if (!fv) return `${path}: missing field ${f.name}`;
      const e = checkValue(fv, f.type, `${path}.${f.name}`);
      if (e) return e;
    }
    return null;
  }
  return bad();
}
