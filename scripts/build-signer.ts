/**
 * The signer compiled to one JavaScript file, so that it runs on plain node: tsx's loader (a hooks
 * thread and its module graph) costs the signer about 38 MB of its 150 MB budget (bench/signer.ts).
 * `npm run signer`, `npm start` and bench:signer build it here first; nothing else needs a build
 * step (`npm ci && npm start` works as before, and the tests run the sources under vitest).
 *
 * esbuild (tsx's own dependency, so present wherever a .ts file runs) bundles signer/cli.ts with
 * packages left as imports. Each bundled module keeps its own file's `import.meta.url`, so what it
 * finds beside itself (migrations, console assets, contracts, package.json, and the worker files,
 * which protocol/workers bundles when a pool starts) is found in the source tree as before.
 * A build is reused until one of its inputs changes (esbuild's metafile lists them), or this script does.
 *
 * `tsx scripts/build-signer.ts` builds and prints the file's path.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Under node_modules, so that the bundle's package imports resolve from the project's node_modules. */
const OUT_DIR = join(ROOT, 'node_modules/.cache/signer');
/**
 * Named by the tree it is built from: worktrees that share one node_modules (a symlink) must not
 * run each other's signer.
 */
const TREE = createHash('sha256').update(ROOT).digest('hex').slice(0, 12);
/** The compiled signer: `node <this> run ...` is `tsx signer/cli.ts run ...`. */
export const SIGNER_BUNDLE = join(OUT_DIR, `cli-${TREE}.mjs`);
const INPUTS = join(OUT_DIR, `inputs-${TREE}.json`);

/**
 * `import.meta.url` as an expression, not inside a string: protocol/workers/spawn.ts names it in a
 * string to do the same for worker files, and must keep doing so.
 */
const IMPORT_META_URL = /(?<!['"`])\bimport\.meta\.url\b(?!['"`])/g;

type Metafile = { inputs: Record<string, unknown> };
type Build = (options: Record<string, unknown>) => Promise<{ metafile: Metafile }>;

/** esbuild, found where tsx finds it (protocol/workers/spawn.ts does the same for worker files). */
async function esbuild(): Promise<Build> {
  const fromTsx = createRequire(createRequire(import.meta.url).resolve('tsx/package.json'));
  return ((await import(pathToFileURL(fromTsx.resolve('esbuild')).href)) as { build: Build }).build;
}

/**
 * True when no file the last build read changed since that build started (not since it ended: a
 * file saved while esbuild ran is older than the bundle, yet not in it).
 */
function upToDate(): boolean {
  try {
    statSync(SIGNER_BUNDLE);
    const { startedAt, files } = JSON.parse(readFileSync(INPUTS, 'utf8')) as { startedAt: number; files: string[] };
    return files.every((f) => statSync(f).mtimeMs < startedAt);
  } catch {
    return false;
  }
}

/** node's heap flags of `npm run signer` (package.json), so that every way of starting the signer runs it alike. */
export function signerNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  return pkg.scripts.signer?.match(/--max-[a-z-]+=\d+/g) ?? [];
}

/** Builds the signer unless its last build is current; returns the path to run with node. */
export async function buildSigner(): Promise<string> {
  if (upToDate()) return SIGNER_BUNDLE;
  mkdirSync(OUT_DIR, { recursive: true });
  const startedAt = Date.now();
  // Several signers may start at once (tests): each writes its own file and renames it into place.
  const tmp = `${SIGNER_BUNDLE}.${process.pid}.tmp`;
  const build = await esbuild();
  const { metafile } = await build({
    absWorkingDir: ROOT,
    entryPoints: [join(ROOT, 'signer/cli.ts')],
    outfile: tmp,
    bundle: true,
    packages: 'external',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    metafile: true,
    logLevel: 'error',
    plugins: [
      {
        name: 'import-meta-url',
        setup(b: { onLoad: (f: { filter: RegExp }, cb: (a: { path: string }) => unknown) => void }) {
          b.onLoad({ filter: /\.tsx?$/ }, async ({ path }) => ({
            contents: (await readFile(path, 'utf8')).replace(IMPORT_META_URL, JSON.stringify(pathToFileURL(path).href)),
            loader: path.endsWith('x') ? 'tsx' : 'ts',
          }));
        },
      },
    ],
  });
  // This script and tsconfig.json (JSX) make the build too.
  const inputs = [
    ...Object.keys(metafile.inputs).map((f) => resolve(ROOT, f)),
    fileURLToPath(import.meta.url),
    join(ROOT, 'tsconfig.json'),
  ];
  writeFileSync(`${INPUTS}.${process.pid}.tmp`, JSON.stringify({ startedAt, files: inputs }));
  renameSync(tmp, SIGNER_BUNDLE);
  renameSync(`${INPUTS}.${process.pid}.tmp`, INPUTS);
  return SIGNER_BUNDLE;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    console.log(await buildSigner());
  } catch (e) {
    // esbuild has printed each error with its file and line; its stack would only bury them.
    console.error(`the signer did not build: ${(e as Error).message}`);
    process.exit(1);
  }
}
