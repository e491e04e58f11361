/**
 * What an admin sets on a token (name, allowed models, IP allow-list, limits, expiry, the prepaid
 * account it is paid from), validated
 * with zod for the JSON API and the console's forms alike.
 */
import { ipRestriction } from 'hono/ip-restriction';
import { validateStacksAddress } from '@stacks/transactions';
import { z } from 'zod';
import { DATA_LEVELS } from '../../protocol/index.js';

/** Whether `rule` is an IP address or CIDR range, as hono's ip-restriction (which enforces the list) parses it. */
export function isIpRule(rule: string): boolean {
  if (rule === '*' || rule.trim() !== rule) return false;
  try {
    ipRestriction(() => '', { allowList: [rule] });
    return true;
  } catch {
    return false;
  }
}

const ipRule = z
  .string()
  .max(64)
  .refine(isIpRule, { message: 'must be an IP address (203.0.113.7, 2001:db8::1) or CIDR range (10.0.0.0/8)' });
const modelName = z.string().min(1).max(128);
/** Expiry as ms since epoch or an ISO date; null never expires. */
const expiry = z
  .union([z.number().int().positive(), z.iso.datetime({ offset: true }).transform((s) => Date.parse(s))])
  .nullable();

/** A token's settings; every field optional on update. */
export const tokenSettings = z
  .object({
    name: z.string().trim().min(1).max(100),
    allowed_models: z.array(modelName).max(100).nullable().describe('null: every model'),
    ip_allowlist: z.array(ipRule).max(100).describe('empty: any address'),
    rate_limit_per_minute: z.number().int().min(0).max(1_000_000).describe('0: no limit'),
    monthly_quota: z.number().int().min(0).max(1_000_000_000_000).describe('0: no limit'),
    expires_at: expiry,
    account: z
      .string()
      .trim()
      .max(64)
      .refine(validateStacksAddress, {
        message:
          'must be a Stacks principal (ST… or SP…, with a valid checksum): the prepaid account the token is paid from',
      })
      .nullable()
      .describe(
        "null: not metered; a principal: each call is paid from that prepaid account's deposit, within the allowance it signed",
      ),
    data_level: z
      .enum(DATA_LEVELS)
      .nullable()
      .describe(
        "what the token sends: L0 public, L1 internal (personal data masked), L2 sensitive; null: the guard's default_level",
      ),
  })
  .strict();

/** Body of POST /api/v1/admin/tokens: a name, then defaults for what is left out. */
export const createTokenBody = tokenSettings.partial().required({ name: true });
/** Body of PATCH /api/v1/admin/tokens/{id}. */
export const updateTokenBody = tokenSettings.partial();
/** Body of POST /api/v1/admin/tokens/{id}/activate: a new expiry, needed to reactivate an expired token. */
export const activateTokenBody = z.object({ expires_at: expiry.optional() }).strict();

export type TokenSettings = z.infer<typeof tokenSettings>;
export type CreateTokenInput = z.infer<typeof createTokenBody>;
export type UpdateTokenInput = z.infer<typeof updateTokenBody>;
