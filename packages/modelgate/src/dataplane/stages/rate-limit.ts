import type { ClientAddress } from '../../http/client-address.js';
import { clientKey } from '../../http/failure-throttle.js';
import type { RequestHead } from '../../http/request-head.js';
import type { Principal } from '../../kernel/principal.js';
import { type RateLimit, windowMs } from '../../kernel/rate-limit.js';
import type { Admitted, Refusal } from '../admission-result.js';
import type { RateCount, RateCounter } from '../rate-counter.js';

/** What the rate-limit stage needs of the gateway. */
export interface RateLimitStage {
  readonly rates: RateCounter;
  readonly clientAddress: ClientAddress;
}

/** One limit that applies to a request: the counter's key, the limit and its policy name for the headers. */
interface Applied {
  readonly key: string;
  readonly limit: RateLimit;
  readonly policy: 'credential' | 'deployment';
}

/**
 * The rate-limit stage (X3), after a caller was admitted: the credential's own limit (an API key's
 * or API token's), the deployment's per-caller one, and the deployment's shared one when it is
 * counted by deployment. A deployment's own API key's limit replaces the deployment's per-caller
 * one (who made it may change that limit anyway); any other credential's own limit only narrows
 * it, since its maker need not be allowed to change the deployment (a reader mints tokens, a
 * service owner version keys). Counted in that order, each only while the ones before allowed the
 * request, so a caller refused by its own limit takes nothing from what all callers share. Over
 * any of them: 429 `RATE_LIMITED` with `Retry-After` and the IETF `RateLimit-Policy` /
 * `RateLimit` headers. A request with no limit costs two property reads.
 *
 * @example
 * ```ts
 * const outcome = rateLimited(admitted, req, stage); // the Admitted, a 429 Refusal, or a promise of one
 * ```
 */
export function rateLimited(
  admitted: Admitted,
  req: RequestHead,
  stage: RateLimitStage,
): Admitted | Refusal | Promise<Admitted | Refusal> {
  const deployment = admitted.route.snapshot.rate_limit;
  const own = ownLimit(admitted.principal);
  if (!deployment && !own) return admitted;
  const applied = limitsOf(admitted, req, stage, deployment ?? null, own);
  return countFrom(0, admitted, applied, stage);
}

/** Counts `applied` from `index` on, in turn: the first refusal ends it, so later limits count only admitted requests. */
function countFrom(
  index: number,
  admitted: Admitted,
  applied: readonly Applied[],
  stage: RateLimitStage,
): Admitted | Refusal | Promise<Admitted | Refusal> {
  for (let i = index; i < applied.length; i++) {
    const limit = applied[i] as Applied;
    const count = stage.rates.take(limit.key, limit.limit);
    if (count instanceof Promise) {
      return count.then((c) => (c.allowed ? countFrom(i + 1, admitted, applied, stage) : refusal(admitted, limit, c)));
    }
    if (!count.allowed) return refusal(admitted, limit, count);
  }
  return admitted;
}

function ownLimit(principal: Principal): RateLimit | undefined {
  return principal.kind === 'api_key' || principal.kind === 'api_token' ? principal.rate_limit : undefined;
}

function limitsOf(
  admitted: Admitted,
  req: RequestHead,
  stage: RateLimitStage,
  deployment: RateLimit | null,
  own: RateLimit | undefined,
): Applied[] {
  const id = admitted.route.snapshot.id;
  const principal = admitted.principal;
  const applied: Applied[] = [];
  if (own) applied.push({ key: `${id}|own:${principal.kind}:${principal.id}`, limit: own, policy: 'credential' });
  const replaced = own !== undefined && principal.kind === 'api_key' && principal.rate_limit_replaces === true;
  if (deployment && deployment.by !== 'deployment' && !replaced) {
    applied.push({ key: `${id}|${callerKey(principal, req, stage)}`, limit: deployment, policy: 'credential' });
  }
  if (deployment?.by === 'deployment') applied.push({ key: id, limit: deployment, policy: 'deployment' });
  return applied;
}

/**
 * Who a deployment's per-caller limit counts: a person for the credentials people mint at will
 * (their API tokens and the platform JWTs they issued count together, as Kong counts a consumer),
 * else the credential, or the client address when nobody signed in.
 */
function callerKey(principal: Principal, req: RequestHead, stage: RateLimitStage): string {
  if (principal.kind === 'anonymous') return `address:${clientKey(stage.clientAddress(req))}`;
  if ((principal.kind === 'api_token' || principal.kind === 'platform_jwt') && principal.owner !== undefined) {
    return `user:${principal.owner}`;
  }
  return `${principal.kind}:${principal.id}`;
}

function refusal(admitted: Admitted, limit: Applied, count: RateCount): Refusal {
  const seconds = Math.max(1, Math.ceil(count.resetMs / 1000));
  return {
    code: 'RATE_LIMITED',
    deployment: admitted.route.snapshot.name,
    caller: admitted.principal,
    message: `Over the rate limit of ${limit.limit.requests} requests per ${limit.limit.per}${
      limit.policy === 'deployment' ? ' for this deployment' : ' for this credential'
    }; retry in ${seconds} s`,
    headers: {
      'retry-after': String(seconds),
      ...rateLimitHeaders(limit, count),
    },
  };
}

/**
 * The IETF `RateLimit-Policy` and `RateLimit` fields (draft-ietf-httpapi-ratelimit-headers):
 * the quota `q` per window `w` seconds, and the requests left `r` with `t` seconds to its end.
 */
export function rateLimitHeaders(
  applied: { readonly limit: RateLimit; readonly policy: string },
  count: RateCount,
): Record<string, string> {
  const w = windowMs(applied.limit.per) / 1000;
  const t = Math.max(0, Math.ceil(count.resetMs / 1000));
  return {
    'ratelimit-policy': `"${applied.policy}";q=${applied.limit.requests};w=${w}`,
    ratelimit: `"${applied.policy}";r=${count.remaining};t=${t}`,
  };
}
