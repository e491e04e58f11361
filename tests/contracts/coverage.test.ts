import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { escrowErrors, registryErrors, accountsErrors } from '../../protocol/contracts/index.js';
import { deployer } from './helpers.js';

const dir = new URL('.', import.meta.url);
const root = new URL('../../', import.meta.url);
const testSources = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && f !== 'coverage.test.ts')
  .map((f) => readFileSync(new URL(f, dir), 'utf8'))
  .join('\n');

describe('error coverage', () => {
  // ERR_TRANSFER_FAILED guards a state the invariants rule out (escrow short of funds)
  const unreachable = new Set(['ERR_TRANSFER_FAILED']);
  it.each([
    ['inference-escrow', escrowErrors],
    ['model-registry', registryErrors],
    ['accounts', accountsErrors],
  ])('every %s error is asserted by a test', (_, table) => {
    const untested = Object.keys(table).filter(
      (name) => !unreachable.has(name) && !new RegExp(`\\bE\\.${name}\\b`).test(testSources),
    );
    expect(untested).toEqual([]);
  });
});

describe('rendezvous test contracts', () => {
  it.each([
    [
      'inference-escrow',
      [
        'invariant-escrow-balance',
        'invariant-conservation',
        'invariant-stake-conservation',
        'invariant-task-states',
        'invariant-node-states',
      ],
    ],
    ['model-registry', ['invariant-output-chains', 'invariant-ids-dense']],
    ['accounts', ['invariant-held', 'invariant-accounts', 'invariant-payees', 'invariant-bond', 'invariant-caps']],
  ])('%s.tests.clar deploys with its contract (as npm run fuzz does) and its invariants hold', (name, invariants) => {
    const source =
      readFileSync(new URL(`contracts/${name}.clar`, root), 'utf8') +
      '\n' +
      readFileSync(new URL(`contracts/${name}.tests.clar`, root), 'utf8');
    simnet.deployContract(`${name}-rendezvous`, source, { clarityVersion: 3 }, deployer);
    for (const fn of invariants)
      expect(simnet.callReadOnlyFn(`${deployer}.${name}-rendezvous`, fn, [], deployer).result).toBeBool(true);
  });
});
