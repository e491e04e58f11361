/**
 * The guard on the signer's clear-text inputs: a direct request's tensors are checked before they
 * are queued, at the stricter of its token's and its model's data level. Every finding is audited
 * (rule, field path, action; never the value); a refusal is a 422 naming each one, and a masked
 * input is what the nodes get in place of what was sent. An L2 input (clear text here) goes to
 * trusted nodes only (trusted.ts).
 */
import { eq } from 'drizzle-orm';
import { DATA_LEVELS, stricterLevel, type DataLevel, type GuardFinding, type OipTensor } from '../../protocol/index.js';
import { apiTokens, guardAudit, modelPolicies, type SignerDatabase } from '../db/index.js';
import { ApiError } from '../errors.js';
import type { PolicyGuard } from './index.js';
import { clearTextRoute } from './trusted.js';

/** Who sent an input and for which model: what sets its level and what the audit log records. */
export interface GuardSubject {
  tokenId: number | null;
  model: string;
  requestId: string;
}

const asLevel = (v: string | null | undefined): DataLevel | null =>
  DATA_LEVELS.includes(v as DataLevel) ? (v as DataLevel) : null;

/** A model's level, or the guard's default_level when it sets none. */
export function modelLevel(store: SignerDatabase, guard: PolicyGuard, model: string): DataLevel {
  const level = store.db
    .select({ l: modelPolicies.data_level })
    .from(modelPolicies)
    .where(eq(modelPolicies.model, model))
    .get()?.l;
  return asLevel(level) ?? guard.defaultLevel;
}

/** The level a direct call is guarded at: the stricter of the token's and the model's, each defaulting to the guard's. */
export function levelOf(store: SignerDatabase, guard: PolicyGuard, who: GuardSubject): DataLevel {
  const token =
    who.tokenId === null
      ? null
      : store.db.select({ l: apiTokens.data_level }).from(apiTokens).where(eq(apiTokens.id, who.tokenId)).get()?.l;
  return stricterLevel(asLevel(token) ?? guard.defaultLevel, modelLevel(store, guard, who.model));
}

/** Writes one guard_audit row per finding (never the value). */
export function auditFindings(
  store: SignerDatabase,
  who: GuardSubject,
  level: DataLevel,
  findings: GuardFinding[],
  now: number,
): void {
  if (findings.length === 0) return;
  store.db
    .insert(guardAudit)
    .values(
      findings.map((f) => ({
        at: now,
        token_id: who.tokenId,
        model: who.model,
        request_id: who.requestId,
        data_level: level,
        rule: f.rule,
        path: f.path,
        action: f.action,
      })),
    )
    .run();
}

/** What a direct request's guard returns: the inputs to queue, and whether only trusted nodes may run them. */
export interface GuardedInputs {
  inputs: OipTensor[][];
  trustedOnly: boolean;
}

/**
 * Guards the inputs of one request, or of each request of a batch (`$.requests[i].inputs…` paths).
 * Returns the inputs to queue (the same arrays, or masked copies) and whether their tasks are
 * trusted-only (L2); throws policy_needs_* when an L2 input has no node it may go to.
 */
export function guardInputs(
  store: SignerDatabase,
  guard: PolicyGuard,
  who: GuardSubject & { artifactHash: string },
  inputs: OipTensor[][],
  batch: boolean,
  now = Date.now(),
): GuardedInputs {
  if (!guard.enabled) return { inputs, trustedOnly: false };
  const level = levelOf(store, guard, who);
  const doc = batch ? { requests: inputs.map((i) => ({ inputs: i })) } : { inputs: inputs[0] };
  const verdict = guard.check(doc, level);
  auditFindings(store, who, level, verdict.findings, now);
  if (verdict.action === 'refuse') {
    const refused = verdict.findings.filter((f) => f.action === 'refuse').map((f) => `${f.rule} at ${f.path}`);
    throw new ApiError(
      'policy_refused',
      `personal data that data level ${level} does not let out: ${refused.join(', ')}; remove it from the input, or ask the operator about this token's and model's data levels`,
    );
  }
  const trustedOnly = clearTextRoute(store, guard, level, { name: who.model, artifactHash: who.artifactHash });
  if (verdict.action !== 'mask') return { inputs, trustedOnly };
  const masked = batch
    ? (verdict.value as { requests: { inputs: OipTensor[] }[] }).requests.map((r) => r.inputs)
    : [(verdict.value as { inputs: OipTensor[] }).inputs];
  return { inputs: masked, trustedOnly };
}
