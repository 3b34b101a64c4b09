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
 * or API token's), else its deployment's per-credential one, and the deployment's shared one when
 * it is counted by deployment. Over any of them: 429 `RATE_LIMITED` with `Retry-After` and the
 * IETF `RateLimit-Policy` / `RateLimit` headers. A request with no limit costs two property reads.
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
  if (applied.length === 0) return admitted;
  const counts = applied.map((a) => stage.rates.take(a.key, a.limit));
  if (counts.some((c) => c instanceof Promise)) {
    return Promise.all(counts).then((settled) => verdict(admitted, applied, settled));
  }
  return verdict(admitted, applied, counts as RateCount[]);
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
  const applied: Applied[] = [];
  const perCredential = own ?? (deployment && deployment.by !== 'deployment' ? deployment : undefined);
  if (perCredential) {
    applied.push({
      key: `${id}|${callerKey(admitted.principal, req, stage)}`,
      limit: perCredential,
      policy: 'credential',
    });
  }
  if (deployment?.by === 'deployment') applied.push({ key: id, limit: deployment, policy: 'deployment' });
  return applied;
}

/** Who a per-credential limit counts: the credential, or the client address when nobody signed in. */
function callerKey(principal: Principal, req: RequestHead, stage: RateLimitStage): string {
  if (principal.kind === 'anonymous') return `address:${clientKey(stage.clientAddress(req))}`;
  return `${principal.kind}:${principal.id}`;
}

function verdict(admitted: Admitted, applied: readonly Applied[], counts: readonly RateCount[]): Admitted | Refusal {
  const over = counts.findIndex((c) => !c.allowed);
  if (over === -1) return admitted;
  const limit = applied[over] as Applied;
  const count = counts[over] as RateCount;
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
