/**
 * Starting a worker from a TypeScript file. Worker threads do not get the parent's TypeScript
 * loader under vitest, and tsx's loader costs each thread about 13 MB and a slower start. So a
 * `.ts` worker file is bundled once per process by esbuild (which tsx already runs; it maps
 * `./x.js` imports to `./x.ts` as tsc does) into CommonJS (so no top-level await in worker
 * files), with packages left as `require`s resolved from the worker file's own folder: the
 * thread runs plain JavaScript. A `.js` file
 * (a built tree) is started as it is.
 */
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type ResourceLimits, type Transferable } from 'node:worker_threads';

/** How to start one worker. */
export interface SpawnOptions {
  workerData?: unknown;
  resourceLimits?: ResourceLimits;
}

type Build = (options: Record<string, unknown>) => Promise<{ outputFiles: { text: string }[] }>;
type Plugin = {
  name: string;
  setup: (build: { onLoad: (f: { filter: RegExp }, cb: (a: { path: string }) => unknown) => void }) => void;
};

const bundles = new Map<string, Promise<string>>();

/** esbuild, found where tsx finds it: it is tsx's dependency, present wherever a .ts file can run. */
async function esbuild(): Promise<Build> {
  const fromTsx = createRequire(createRequire(import.meta.url).resolve('tsx/package.json'));
  return ((await import(pathToFileURL(fromTsx.resolve('esbuild')).href)) as { build: Build }).build;
}

/** CommonJS has no `import.meta`: each bundled module gets its own file's URL written in (e.g. for createRequire). */
const importMetaUrl: Plugin = {
  name: 'import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, async ({ path }) => ({
      contents: (await readFile(path, 'utf8')).replaceAll('import.meta.url', JSON.stringify(pathToFileURL(path).href)),
      loader: 'ts',
    }));
  },
};

/** esbuild's options for a worker bundle, the same for the asynchronous and the synchronous build. */
const BUNDLE_OPTIONS = {
  bundle: true,
  packages: 'external',
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  write: false,
  logLevel: 'silent',
} as const;

/** An eval'd worker's `require` resolves from the working directory: give the bundle the file's own. */
function withOwnRequire(code: string, file: string): string {
  const ownRequire = `require('node:module').createRequire(${JSON.stringify(file)})`;
  return `((require) => {\n${code}\n})(${ownRequire});`;
}

/** The worker file bundled to a CommonJS script whose `require` resolves as the file itself would. */
function bundle(file: string): Promise<string> {
  let code = bundles.get(file);
  if (!code) {
    code = esbuild().then(async (build) => {
      const built = await build({ entryPoints: [file], ...BUNDLE_OPTIONS, plugins: [importMetaUrl] });
      return withOwnRequire(built.outputFiles[0]!.text, file);
    });
    bundles.set(file, code);
  }
  return code;
}

const syncBundles = new Map<string, string>();

/**
 * `bundle`, synchronously, for a caller that cannot await (the signer's PostgreSQL facade opens
 * its connection inside a synchronous `openDatabase`). esbuild's buildSync takes no plugins, so
 * every module of the bundle gets the worker file's URL as `import.meta.url`: right for modules
 * beside it, which is all such a worker may rely on.
 */
function bundleSync(file: string): string {
  let code = syncBundles.get(file);
  if (!code) {
    const fromTsx = createRequire(createRequire(import.meta.url).resolve('tsx/package.json'));
    const { buildSync } = fromTsx('esbuild') as {
      buildSync: (o: Record<string, unknown>) => { outputFiles: { text: string }[] };
    };
    const built = buildSync({
      entryPoints: [file],
      ...BUNDLE_OPTIONS,
      define: { 'import.meta.url': JSON.stringify(pathToFileURL(file).href) },
    });
    syncBundles.set(file, (code = withOwnRequire(built.outputFiles[0]!.text, file)));
  }
  return code;
}

/** Starts the worker file `file` at once (see bundleSync); `transferList` as for `new Worker`. */
export function spawnWorkerSync(file: URL, options: SpawnOptions & { transferList?: Transferable[] } = {}): Worker {
  const path = fileURLToPath(file);
  const common = {
    execArgv: [],
    workerData: options.workerData,
    resourceLimits: options.resourceLimits,
    transferList: options.transferList,
  };
  if (!path.endsWith('.ts')) return new Worker(file, common);
  return new Worker(bundleSync(path), { ...common, eval: true });
}

/** Starts the worker file `file` (.ts bundled, .js as is); `execArgv: []` keeps the parent's loader flags out of it. */
export async function spawnWorker(file: URL, options: SpawnOptions = {}): Promise<Worker> {
  const path = fileURLToPath(file);
  const common = { execArgv: [], workerData: options.workerData, resourceLimits: options.resourceLimits };
  if (!path.endsWith('.ts')) return new Worker(file, common);
  return new Worker(await bundle(path), { ...common, eval: true });
}

/** The worker file `name` beside the module at `moduleUrl`: `.ts` when running from source, `.js` when built. */
export function workerFile(moduleUrl: string, name: string): URL {
  return new URL(`./${name}${moduleUrl.endsWith('.ts') ? '.ts' : '.js'}`, moduleUrl);
}
