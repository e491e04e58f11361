/** The shared config loader: precedence, unknown keys, and errors that name where a bad value came from. */
import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, readTomlFile, resolveLayers, type ConfigSpec } from './loader.js';

const schema = z
  .object({
    server: z
      .object({ port: z.number().int().min(1).max(65535).default(8080), host: z.string().default('127.0.0.1') })
      .strict()
      .prefault({}),
    enabled: z.boolean().default(false),
    key: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'must be 64 hex characters')
      .optional(),
    api: z.string().default('http://x'),
  })
  .strict();
const spec: ConfigSpec<typeof schema> = {
  name: 'demo',
  schema,
  env: {
    DEMO_PORT: { key: 'server.port', type: 'number' },
    DEMO_ENABLED: { key: 'enabled', type: 'boolean' },
    DEMO_KEY: { key: 'key', secret: true },
    DEMO_API: { key: 'api', keepEmpty: true },
    DEMO_HOST: 'server.host',
  },
  flags: { port: 'server.port', host: 'server.host' },
};
const dir = mkdtempSync(join(tmpdir(), 'config-loader-'));
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};
const fromFile = (path: string) => ({ source: path, values: readTomlFile(path) });
const error = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('layered config loader', () => {
  it('defaults < file < environment < flags, key by key', () => {
    const path = file('a.toml', '[server]\nport = 9000\nhost = "file"\n');
    expect(resolveLayers(spec, {})).toEqual({
      server: { port: 8080, host: '127.0.0.1' },
      enabled: false,
      api: 'http://x',
    });
    expect(resolveLayers(spec, { docs: [fromFile(path)] }).server).toEqual({ port: 9000, host: 'file' });
    const env = { DEMO_PORT: '9100', DEMO_ENABLED: '1' };
    expect(resolveLayers(spec, { docs: [fromFile(path)], env })).toMatchObject({
      server: { port: 9100, host: 'file' },
      enabled: true,
    });
    expect(resolveLayers(spec, { docs: [fromFile(path)], env, flags: { port: 9200, host: undefined } })).toMatchObject({
      server: { port: 9200, host: 'file' },
    });
    // A later document overrides an earlier one; both stay below the environment.
    expect(
      resolveLayers(spec, {
        docs: [fromFile(path), { source: 'second', values: { server: { host: 'second' } } }],
        env: { DEMO_HOST: 'env' },
      }).server.host,
    ).toBe('env');
  });

  it('ignores empty environment variables unless an empty value means something', () => {
    expect(resolveLayers(spec, { env: { DEMO_PORT: '', DEMO_API: '' } })).toMatchObject({
      server: { port: 8080 },
      api: '',
    });
  });

  it('refuses an unknown key, naming the file and the keys it could have meant', () => {
    const path = file('b.toml', '[server]\nprot = 1\n');
    expect(error(() => resolveLayers(spec, { docs: [fromFile(path)] }))).toBe(
      `invalid demo configuration:\n${path}: server.prot: unknown key: remove it or check its spelling; the keys here are port, host`,
    );
    expect(error(() => resolveLayers(spec, { docs: [{ source: 'config', values: { extra: 1 } }] }))).toMatch(
      /^config: extra: unknown key.*the keys here are server, enabled, key, api$/m,
    );
  });

  it('names the source of a bad value: the file, the variable (never a secret) or the flag', () => {
    const path = file('c.toml', '[server]\nport = 0\n');
    expect(error(() => resolveLayers(spec, { docs: [fromFile(path)] }))).toMatch(
      new RegExp(`^${path}: server\\.port: Too small`, 'm'),
    );
    expect(error(() => resolveLayers(spec, { docs: [fromFile(path)], env: { DEMO_PORT: '70000' } }))).toMatch(
      /^environment DEMO_PORT="70000": server\.port: Too big/m,
    );
    expect(error(() => resolveLayers(spec, { env: { DEMO_PORT: '70000' }, flags: { port: -1 } }))).toMatch(
      /^flag --port: server\.port: Too small/m,
    );
    const secret = error(() => resolveLayers(spec, { env: { DEMO_KEY: 'not-a-key' } }));
    expect(secret).toMatch(/^environment DEMO_KEY: key: must be 64 hex characters$/m);
    expect(secret).not.toContain('not-a-key');
    expect(error(() => resolveLayers(spec, { env: { DEMO_PORT: 'eighty' } }))).toBe(
      'environment DEMO_PORT="eighty" is not a number; set it to a number or unset it',
    );
    expect(error(() => resolveLayers(spec, { env: { DEMO_ENABLED: 'yes' } }))).toMatch(
      /DEMO_ENABLED="yes" is not a boolean; set it to true, false, 1 or 0/,
    );
  });

  it('says whether a file is missing or is not TOML', () => {
    expect(error(() => readTomlFile(join(dir, 'missing.toml')))).toMatch(
      /^cannot read config file .*missing\.toml: ENOENT/,
    );
    expect(error(() => readTomlFile(file('d.toml', '[server\nport = 1')))).toMatch(/d\.toml is not valid TOML/);
  });
});
