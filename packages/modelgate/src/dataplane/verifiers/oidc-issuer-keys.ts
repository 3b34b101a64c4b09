import { createLocalJWKSet, errors, type JWTVerifyGetKey } from 'jose';

/** Fetch limits for discovery and JWKS documents. */
const FETCH_TIMEOUT_MS = 5000;
const MAX_DOCUMENT_BYTES = 512 * 1024;

export interface IssuerKeyOptions {
  readonly issuer: string;
  /** Null: found by OpenID discovery. */
  readonly jwksUrl: string | null;
  /** At most one fetch (successful or not) per this many ms on an unknown `kid`. */
  readonly cooldownMs: number;
  /** After this long the keys are refreshed on use, but kept when the refresh fails. */
  readonly maxAgeMs: number;
  /** The clock (epoch ms) the cooldown and the age are counted by; default `Date.now`. */
  readonly now?: () => number;
}

/**
 * The signing keys of one external issuer. Fetched on first use and cached; an unknown `kid`
 * refetches at most once per cooldown, counted from the last attempt, so a failing or slow
 * issuer is not hammered. When the issuer fails, cached keys keep verifying and unknown keys are
 * refused (fail closed). Only the configured or discovered URL is ever fetched: `jku`, `x5u` and
 * embedded `jwk` headers play no part in choosing a key.
 */
export class IssuerKeys {
  private local: JWTVerifyGetKey | undefined;
  private jwksUrl: string | null;
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private attemptedAt = Number.NEGATIVE_INFINITY;
  private pending: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: IssuerKeyOptions) {
    this.jwksUrl = options.jwksUrl;
    this.now = options.now ?? Date.now;
  }

  /** A `jose` key resolver: the cached keys, refreshed as described above. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    const now = this.now();
    if ((!this.local || now - this.fetchedAt > this.options.maxAgeMs) && this.mayAttempt(now)) {
      await this.refresh().catch(() => undefined);
    }
    if (!this.local) throw new errors.JWKSNoMatchingKey('the issuer’s keys are not available');
    try {
      return await this.local(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey) || !this.mayAttempt(this.now())) throw err;
      await this.refresh().catch(() => undefined);
      return this.local(header, token);
    }
  };

  private mayAttempt(now: number): boolean {
    return now - this.attemptedAt >= this.options.cooldownMs;
  }

  private refresh(): Promise<void> {
    this.pending ??= (async () => {
      this.attemptedAt = this.now();
      try {
        this.jwksUrl ??= await discoverJwksUrl(this.options.issuer);
        this.local = createLocalJWKSet((await fetchJson(this.jwksUrl)) as never);
        this.fetchedAt = this.now();
      } finally {
        this.pending = undefined;
      }
    })();
    return this.pending;
  }
}

/** `jwks_uri` from `<issuer>/.well-known/openid-configuration`, whose `issuer` must match exactly. */
async function discoverJwksUrl(issuer: string): Promise<string> {
  const doc = (await fetchJson(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`)) as Record<
    string,
    unknown
  >;
  if (doc.issuer !== issuer || typeof doc.jwks_uri !== 'string' || !/^https?:\/\//.test(doc.jwks_uri)) {
    throw new Error('the discovery document does not match the issuer');
  }
  return doc.jwks_uri;
}

/** GET a small JSON document: no redirects, bounded in time and size. */
async function fetchJson(url: string): Promise<unknown> {
  const res = await fetch(url, {
    redirect: 'error',
    signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    headers: { accept: 'application/json, application/jwk-set+json' },
  });
  if (res.status !== 200) throw new Error(`answered ${res.status}`);
  const text = await res.text();
  if (text.length > MAX_DOCUMENT_BYTES) throw new Error('document too large');
  const doc: unknown = JSON.parse(text);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('not a JSON object');
  return doc;
}
