import { nearest } from './nearest.js';
import type { Problems } from './validation.js';

/** The windows a rate limit counts in. */
export const RATE_WINDOWS = ['second', 'minute', 'hour'] as const;
export type RateWindow = (typeof RATE_WINDOWS)[number];

/** What a deployment's limit is counted by: each credential (and address, when public) or the whole deployment. */
export const RATE_LIMIT_BY = ['credential', 'deployment'] as const;
export type RateLimitBy = (typeof RATE_LIMIT_BY)[number];

/** The most requests a limit may allow in one window. */
export const RATE_LIMIT_MAX = 1_000_000_000;

/**
 * A per-credential rate limit (X3), as Kong and Unkey have them: at most `requests` in each
 * `per` window. On a deployment, `by` says whether each credential has its own count (the
 * default) or all callers share one; on an API key or API token it is that credential's own.
 */
export interface RateLimit {
  readonly requests: number;
  readonly per: RateWindow;
  /** Only on a deployment; `credential` when absent. */
  readonly by?: RateLimitBy;
}

const WINDOW_MS: Readonly<Record<RateWindow, number>> = { second: 1000, minute: 60_000, hour: 3_600_000 };

/** A window's length in milliseconds. */
export function windowMs(per: RateWindow): number {
  return WINDOW_MS[per];
}

/**
 * Checks a rate limit given by a user: null (none) or `{requests, per}` (with `by` where
 * `withBy`), every problem named by its field; returns the value to store when there are none.
 *
 * @example
 * ```ts
 * parseRateLimit(problems, 'rate_limit', { requests: 100, per: 'minute' }, true); // { requests: 100, per: 'minute' }
 * ```
 */
export function parseRateLimit(problems: Problems, field: string, value: unknown, withBy: boolean): RateLimit | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.check(false, `${field} must be an object like {"requests": 100, "per": "minute"}, or null`, field);
    return null;
  }
  const raw = value as Record<string, unknown>;
  const known = withBy ? ['requests', 'per', 'by'] : ['requests', 'per'];
  for (const key of Object.keys(raw)) {
    problems.check(known.includes(key), `${field}.${key} is not a setting of a rate limit`, `${field}.${key}`);
  }
  const { requests, per, by } = raw;
  problems.check(
    Number.isSafeInteger(requests) && (requests as number) >= 1 && (requests as number) <= RATE_LIMIT_MAX,
    `${field}.requests must be a whole number from 1 to ${RATE_LIMIT_MAX}`,
    `${field}.requests`,
  );
  problems.check(
    (RATE_WINDOWS as readonly unknown[]).includes(per),
    `${field}.per must be one of ${RATE_WINDOWS.join(', ')}${hint(per, RATE_WINDOWS)}`,
    `${field}.per`,
  );
  problems.check(
    by === undefined || (RATE_LIMIT_BY as readonly unknown[]).includes(by),
    `${field}.by must be one of ${RATE_LIMIT_BY.join(', ')}${hint(by, RATE_LIMIT_BY)}`,
    `${field}.by`,
  );
  const limit = { requests: requests as number, per: per as RateWindow };
  return by === undefined || by === 'credential' ? limit : { ...limit, by: by as RateLimitBy };
}

function hint(value: unknown, candidates: readonly string[]): string {
  const near = typeof value === 'string' ? nearest(value, candidates) : undefined;
  return near ? ` (did you mean ${near}?)` : '';
}

/**
 * A limit as people write it on the command line and read it in `show`: `100/minute`, with
 * `,deployment` when all callers share it.
 *
 * @example
 * ```ts
 * describeRateLimit({ requests: 100, per: 'minute' }); // '100/minute'
 * ```
 */
export function describeRateLimit(limit: RateLimit): string {
  return `${limit.requests}/${limit.per}${limit.by === 'deployment' ? ' (whole deployment)' : ''}`;
}

/**
 * Reads `100/minute` (and `100/minute,deployment` where `withBy`) into a limit, or says why not;
 * `none` is null.
 */
export function readRateLimit(text: string, withBy: boolean): RateLimit | null | string {
  const value = text.trim();
  if (value === 'none') return null;
  const match = /^([0-9]{1,10})\s*\/\s*([a-z]+)(?:\s*,\s*([a-z]+))?$/.exec(value);
  const usage = `expected N/second, N/minute or N/hour${withBy ? ', optionally followed by ,deployment' : ''}, or none`;
  if (!match) return usage;
  const [, count, per, by] = match;
  if (!(RATE_WINDOWS as readonly string[]).includes(per ?? ''))
    return `"${per}" is not a window${hint(per, RATE_WINDOWS)}; ${usage}`;
  if (by !== undefined && (!withBy || !(RATE_LIMIT_BY as readonly string[]).includes(by))) {
    return `"${by}" is not what a limit is counted by${withBy ? hint(by, RATE_LIMIT_BY) : ''}; ${usage}`;
  }
  const requests = Number(count);
  if (requests < 1 || requests > RATE_LIMIT_MAX) return `the number of requests must be from 1 to ${RATE_LIMIT_MAX}`;
  const limit = { requests, per: per as RateWindow };
  return by === 'deployment' ? { ...limit, by: 'deployment' } : limit;
}

/** A limit as the store keeps it (JSON text, already validated), null for none. */
export function storedRateLimit(text: string | null | undefined): RateLimit | null {
  return text ? (JSON.parse(text) as RateLimit) : null;
}
