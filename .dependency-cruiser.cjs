/**
 * The rooms-and-doors rule of docs/architecture.md, checked by `npm run check:deps` (and so by
 * `npm test`). The exceptions (tests, bench, scripts, worker entry files) are written there too.
 */
const ROOMS = '(protocol|signer|node-agent|market|devnet)';
const EXCEPT = ['(^|/)[^/]+\\.test\\.tsx?$', '(^|/|-)worker\\.ts$'];

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle makes load order matter and hides which file a concern belongs to.',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'rooms-meet-over-http-and-chain',
      severity: 'error',
      comment: 'signer, node-agent, market and devnet share only protocol/; they talk over HTTP and the chain.',
      from: { path: '^(signer|node-agent|market|devnet)/' },
      to: { path: '^(signer|node-agent|market|devnet)/', pathNot: '^$1/' },
    },
    {
      name: 'protocol-stands-alone',
      severity: 'error',
      comment: 'protocol/ is what every part shares, so it imports none of them.',
      from: { path: '^protocol/' },
      to: { path: '^(signer|node-agent|market|devnet|scripts|bench|tests)/' },
    },
    {
      name: 'a-room-has-one-door',
      severity: 'error',
      comment: 'Another room uses only what a room exports from its index.ts.',
      from: { path: `^${ROOMS}/`, pathNot: EXCEPT },
      to: { path: `^${ROOMS}/.`, pathNot: ['^$1/', `^${ROOMS}/index\\.ts$`] },
    },
    {
      name: 'a-folder-has-one-door',
      severity: 'error',
      comment: 'Inside a room, a folder is used from outside it only through its index.ts.',
      from: { path: `^(${ROOMS}/[^/]+)/`, pathNot: EXCEPT },
      to: { path: `^${ROOMS}/[^/]+/.`, pathNot: ['^$1/', `^${ROOMS}/[^/]+/index\\.tsx?$`] },
    },
    {
      name: 'a-folder-has-one-door-from-the-room',
      severity: 'error',
      comment: "Files at a room's top (its index.ts, services.ts, ...) use its folders through their index.ts too.",
      from: { path: `^${ROOMS}/[^/]+\\.tsx?$`, pathNot: EXCEPT },
      to: {
        path: `^${ROOMS}/[^/]+/.`,
        pathNot: `^${ROOMS}/[^/]+/index\\.tsx?$`,
        // A module loaded lazily (await import) is named by path, so its folder's door does not load it eagerly.
        dependencyTypesNot: ['dynamic-import'],
      },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|data)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
