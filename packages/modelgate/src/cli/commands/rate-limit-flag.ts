import { InvalidArgumentError } from 'commander';
import { type RateLimit, readRateLimit } from '../../kernel/rate-limit.js';

/** `--rate-limit` as parsed: a limit, or `none` (commander keeps no null). */
export type RateLimitFlag = RateLimit | 'none';

/**
 * Parses `--rate-limit N/second|minute|hour` (on a deployment also `,deployment`: all callers
 * share the count), or `none`; a bad value is refused before any request, with the nearest
 * window named.
 *
 * @example
 * ```ts
 * deploymentRateLimit('100/minute'); // { requests: 100, per: 'minute' }
 * deploymentRateLimit('1000/hour,deployment'); // { requests: 1000, per: 'hour', by: 'deployment' }
 * ```
 */
export function deploymentRateLimit(value: string): RateLimitFlag {
  return parsed(value, true);
}

/** `--rate-limit N/second|minute|hour` of a credential (its own, counted per deployment it calls). */
export function credentialRateLimit(value: string): RateLimitFlag {
  return parsed(value, false);
}

function parsed(value: string, withBy: boolean): RateLimitFlag {
  const limit = readRateLimit(value, withBy);
  if (typeof limit === 'string') throw new InvalidArgumentError(`${limit}.`);
  return limit ?? 'none';
}

/** The flag as the API's `rate_limit`: null for `none`; undefined when not given. */
export function rateLimitSetting(flag: RateLimitFlag | undefined): RateLimit | null | undefined {
  return flag === 'none' ? null : flag;
}

/** The help line of `--rate-limit` on a deployment. */
export const DEPLOYMENT_RATE_LIMIT_HELP =
  'requests allowed per caller (each API key, each person’s tokens and JWTs together; each address when public): N/second, N/minute or N/hour; add ,deployment to share one count among all callers; none for no limit';
