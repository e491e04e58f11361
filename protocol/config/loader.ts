/**
 * One configuration loader for every process: TOML file(s), then environment variables, then
 * command-line flags, validated with one zod schema. Each value remembers where it came from, so
 * an error names the file, the variable or the flag to fix, with the key and what is wrong.
 */
import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import type { z } from 'zod';

/** A configuration that cannot be used; the message names where each bad value came from and the fix. */
export class ConfigError extends Error {
  /** Stable machine-readable reason. */
  readonly code = 'invalid_config';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** How an environment variable maps onto a key: the dotted key, or the key with how to read the text. */
export type EnvBinding =
  | string
  | {
      /** Dotted key, e.g. `server.port`. */
      key: string;
      /** How the text is read (default: as a string). */
      type?: 'string' | 'number' | 'boolean';
      /** An empty value counts (e.g. "" = no chain) instead of being ignored. */
      keepEmpty?: boolean;
      /** Never echo the value in an error (private keys). */
      secret?: boolean;
    };

/** What a loader is made of: a name for messages, the schema, and the env/flag mappings it honours. */
export interface ConfigSpec<S extends z.ZodType> {
  /** `signer` -> "invalid signer configuration". */
  name: string;
  schema: S;
  /** Environment variable -> key. */
  env?: Readonly<Record<string, EnvBinding>>;
  /** Flag name without dashes -> dotted key. */
  flags?: Readonly<Record<string, string>>;
}

/** A document layer: parsed TOML or an object, and the name errors give it (a file path, "config"). */
export interface ConfigDoc {
  source: string;
  values: Record<string, unknown>;
}

/** The layers, lowest precedence first: documents in order, then environment, then flags. */
export interface ConfigLayers {
  docs?: ConfigDoc[];
  env?: Readonly<Record<string, string | undefined>>;
  /** Flag name -> value; undefined values are not given. */
  flags?: Readonly<Record<string, unknown>>;
}

/** Reads and parses a TOML file; the error names the file and whether it is missing or malformed. */
export function readTomlFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${path}: ${(e as Error).message}; check the path (--config)`);
  }
  try {
    return parseToml(text) as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError(`config file ${path} is not valid TOML: ${(e as Error).message}`);
  }
}

type Tree = Record<string, unknown>;
const isTree = (v: unknown): v is Tree =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

function setKey(tree: Tree, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = tree;
  for (const p of parts.slice(0, -1)) {
    if (!isTree(node[p])) node[p] = {};
    node = node[p] as Tree;
  }
  node[parts.at(-1)!] = value;
}

/** Copies `from` into `into` (objects merged key by key), noting each leaf's source in `origins`. */
function overlay(into: Tree, from: Tree, source: string, origins: Map<string, string>, prefix = ''): void {
  for (const [k, v] of Object.entries(from)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (isTree(v)) {
      if (!isTree(into[k])) into[k] = {};
      origins.set(key, source);
      overlay(into[k] as Tree, v, source, origins, key);
    } else {
      into[k] = v;
      origins.set(key, source);
    }
  }
}

function readEnv(name: string, binding: EnvBinding, text: string): unknown {
  const type = typeof binding === 'string' ? 'string' : (binding.type ?? 'string');
  if (type === 'number') {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n))
      throw new ConfigError(`environment ${name}="${text}" is not a number; set it to a number or unset it`);
    return n;
  }
  if (type === 'boolean') {
    if (text === 'true' || text === '1') return true;
    if (text === 'false' || text === '0') return false;
    throw new ConfigError(`environment ${name}="${text}" is not a boolean; set it to true, false, 1 or 0`);
  }
  return text;
}

/** The object keys the schema allows at `path` (for "unknown key" messages), or [] when unknown. */
function knownKeys(schema: z.ZodType, path: PropertyKey[]): string[] {
  type Def = {
    type: string;
    shape?: Record<string, z.ZodType>;
    innerType?: z.ZodType;
    in?: z.ZodType;
    element?: z.ZodType;
  };
  const unwrap = (s: z.ZodType | undefined): z.ZodType | undefined => {
    for (let i = 0; s && i < 10; i++) {
      const def = (s as unknown as { def: Def }).def;
      if (def.innerType) s = def.innerType;
      else if (def.type === 'pipe') s = def.in;
      else return s;
    }
    return s;
  };
  let s = unwrap(schema);
  for (const p of path) {
    const def = s && (s as unknown as { def: Def }).def;
    s = unwrap(typeof p === 'number' ? def?.element : def?.shape?.[String(p)]);
  }
  const shape = s && (s as unknown as { def: Def }).def.shape;
  return shape ? Object.keys(shape) : [];
}

function describeIssues(
  spec: ConfigSpec<z.ZodType>,
  error: z.ZodError,
  origins: Map<string, string>,
  fallback: string,
): string[] {
  const sourceOf = (path: PropertyKey[]): string => {
    for (let n = path.length; n > 0; n--) {
      const found = origins.get(path.slice(0, n).join('.'));
      if (found) return found;
    }
    return fallback;
  };
  const lines: string[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(spec.schema, issue.path);
      for (const key of issue.keys) {
        const at = [...issue.path, key];
        const hint = known.length ? `; the keys here are ${known.join(', ')}` : '';
        lines.push(`${sourceOf(at)}: ${at.join('.')}: unknown key: remove it or check its spelling${hint}`);
      }
    } else {
      lines.push(`${sourceOf(issue.path)}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
  }
  return lines;
}

/** Overlays the layers in precedence order and validates them; throws a ConfigError naming each bad value's source. */
export function resolveLayers<S extends z.ZodType>(spec: ConfigSpec<S>, layers: ConfigLayers): z.output<S> {
  const merged: Tree = {};
  const origins = new Map<string, string>();
  for (const doc of layers.docs ?? []) overlay(merged, structuredClone(doc.values), doc.source, origins);
  for (const [name, binding] of Object.entries(spec.env ?? {})) {
    const text = layers.env?.[name];
    const keepEmpty = typeof binding !== 'string' && binding.keepEmpty;
    if (text === undefined || (text === '' && !keepEmpty)) continue;
    const key = typeof binding === 'string' ? binding : binding.key;
    const secret = typeof binding !== 'string' && binding.secret;
    setKey(merged, key, readEnv(name, binding, text));
    origins.set(key, secret ? `environment ${name}` : `environment ${name}="${text}"`);
  }
  for (const [flag, key] of Object.entries(spec.flags ?? {})) {
    const value = layers.flags?.[flag];
    if (value === undefined) continue;
    setKey(merged, key, value);
    origins.set(key, `flag --${flag}`);
  }
  const parsed = spec.schema.safeParse(merged);
  if (parsed.success) return parsed.data;
  const fallback = layers.docs?.at(-1)?.source ?? 'config';
  throw new ConfigError(
    `invalid ${spec.name} configuration:\n${describeIssues(spec, parsed.error, origins, fallback).join('\n')}`,
  );
}
