import { errors, type JWTHeaderParameters, jwtVerify } from 'jose';
import { BoundedCache } from '../../kernel/cache.js';
import { hashCredential } from '../../kernel/credential.js';
import { type Denial, deny } from '../../kernel/denial.js';
import type { EventBus } from '../../kernel/event-bus.js';
import {
  isCanonicalToken,
  looksLikeJwt,
  PLATFORM_JWT_AUDIENCE,
  PLATFORM_JWT_TYPE,
  readScopeClaim,
  type ScopeClaim,
} from '../../kernel/jwt-claims.js';
import { PendingCheck } from '../../kernel/pending-check.js';
import type { PlatformJwtPrincipal, Principal } from '../../kernel/principal.js';
import { TOPICS } from '../../kernel/topics.js';
import type { SigningKeyRing } from '../../keys/signing-keys.js';
import type { Store } from '../../store/database.js';
import { isRevokedBy, loadLiveRevocations, type Revocation } from '../../store/jwt-revocations.js';
import type { Identity, Proof, Verifier } from '../verifier.js';

/** A verified token, as cached until its `exp`: its identity (reach: its claim; issuer: the user who issued it). */
interface VerifiedToken extends Identity {
  readonly jti: string;
  /** The key that signed it: a cached token is refused once that key is no longer trusted. */
  readonly kid: string;
  readonly iat: number;
  readonly exp: number;
  /** What revocations by scope are matched against (the same claim as `reach`). */
  readonly scope: ScopeClaim;
  /** Built once per verified token, so a hit allocates nothing; `owner` is the issuing user's id. */
  readonly principal: PlatformJwtPrincipal;
}

/** `sub` kinds of keys, which hold every right: their tokens open what their scope says. */
const KEY_SUBJECTS = ['management_key', 'admin_key'] as const;

/** Header parameters that point at or carry keys: never followed, and a token with one is refused. */
const KEY_POINTERS = ['jku', 'x5u', 'jwk', 'x5c', 'x5t', 'x5t#S256'] as const;

export interface PlatformJwtOptions {
  readonly issuer: string;
  readonly clockSkewS: number;
  /** `jwt_max_ttl_s`: a token living longer than the node ever issues is refused. */
  readonly maxTtlS: number;
  /** The clock `exp` and `iat` are judged by (epoch ms); default `Date.now`, tests inject one. */
  readonly now?: () => number;
}

/**
 * Verifies platform JWTs on the data plane. A token is verified once with `jose` (the key is
 * chosen by `kid`, and the key alone decides the algorithm), then cached by its hash until its
 * `exp`, so a known token costs a hash and a map lookup. A revocation clears the cache and
 * reloads the revocation list on every process.
 *
 * It proves the token and what it may reach (its `modelgate` claim, and the user who issued it,
 * `sub` `user:<id>`, if a person did); `authorize` decides whether that covers the deployment
 * and whether the issuer may read it now. A token a key issued opens what its claim says.
 */
export class PlatformJwtVerifier implements Verifier<string> {
  private readonly cache = new BoundedCache<VerifiedToken>(50_000);
  private revocations: Revocation[] = [];
  /** Tokens admitted so far, by jti: what a revocation is checked against for open WebSockets. */
  private readonly admitted = new BoundedCache<VerifiedToken>(50_000);
  private reloading: Promise<void> = Promise.resolve();
  /** Bumped on every revocation; a verification that started before one is not cached. */
  private generation = 0;
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    private readonly keys: SigningKeyRing,
    private readonly options: PlatformJwtOptions,
    bus: EventBus,
  ) {
    this.now = options.now ?? Date.now;
    bus.subscribe((event) => {
      if (event.topic !== TOPICS.jwtRevoked) return;
      this.generation++;
      this.cache.clear();
      this.reloading = this.reloadRevocations();
      return this.reloading;
    });
  }

  /** The public JWKS that verifies platform JWTs (served at `/.well-known/jwks.json`). */
  publicJwks(): { keys: readonly object[] } {
    return this.keys.publicJwks();
  }

  /**
   * Whether an admitted token (by jti) is now revoked, once the latest revocation has been
   * loaded: the gateway cuts WebSockets opened with it, as it does for a deleted API key.
   */
  async isRevoked(jti: string): Promise<boolean> {
    await this.reloading.catch(() => undefined);
    const token = this.admitted.get(jti);
    return token !== undefined && this.revocations.some((r) => isRevokedBy(token, r));
  }

  async start(): Promise<void> {
    await this.reloadRevocations();
  }

  /**
   * The gateway's entry: a token verified before (so not revoked since: a revocation empties the
   * cache) is proven from memory like an API key; anything else is a `PendingCheck`.
   *
   * @returns the token's identity, or `malformed`, `unknown` (bad signature, key, algorithm,
   * issuer, audience or type, or a key retired too long ago), `expired` or `revoked`; a
   * `PendingCheck` resolving to one of those.
   */
  verify(token: string): Proof {
    if (!looksLikeJwt(token)) return deny('malformed', 'The token is not a well-formed JWT');
    const hash = hashCredential(token);
    const verified = this.cache.get(hash);
    if (verified === undefined) return new PendingCheck(() => this.verifyUncached(token, hash));
    const refused = this.standing(verified);
    if (refused) {
      this.cache.delete(hash);
      return refused;
    }
    return verified;
  }

  /**
   * Proves an admitted token (by jti) as a new request with it would be proven now, for an open
   * WebSocket relay (which keeps no token) after its issuer's access changed: revoked, expired,
   * or its key no longer trusted. A token this process no longer remembers is refused (the
   * caller reconnects).
   */
  async reverify(principal: Principal): Promise<Identity | Denial> {
    await this.reloading.catch(() => this.reloadRevocations());
    const token = this.admitted.get(principal.id);
    if (token === undefined) return deny('revoked', 'This token is no longer known here; reconnect');
    if (this.revocations.some((r) => isRevokedBy(token, r))) return deny('revoked');
    return this.standing(token) ?? token;
  }

  private async verifyUncached(token: string, hash: string): Promise<Identity | Denial> {
    const generation = this.generation;
    const result = await this.verifyOnce(token);
    if ('denied' in result) return result;
    // A revocation's reload may still be running: deciding (and caching) on the old list would
    // admit the revoked token until the next revocation. A failed reload is tried again (a store
    // that cannot answer is a 503, not an admission).
    await this.reloading.catch(() => this.reloadRevocations());
    if (this.revocations.some((r) => isRevokedBy(result, r))) return deny('revoked');
    if (generation === this.generation) this.cache.set(hash, result);
    this.admitted.set(result.jti, result);
    return result;
  }

  /** What refuses a verified token wherever it is used: its life, its key's trust. */
  private standing(token: VerifiedToken): Denial | undefined {
    if (token.exp + this.options.clockSkewS <= this.now() / 1000) return deny('expired');
    // Its key retired long enough ago (by time, on every process): refused as a forged token is.
    if (!this.keys.trusts(token.kid)) return deny('unknown');
    return undefined;
  }

  private async verifyOnce(token: string): Promise<VerifiedToken | Denial> {
    try {
      const { payload, protectedHeader } = await jwtVerify(token, (header) => this.keyFor(header), {
        issuer: this.options.issuer,
        audience: PLATFORM_JWT_AUDIENCE,
        typ: PLATFORM_JWT_TYPE,
        clockTolerance: this.options.clockSkewS,
        currentDate: new Date(this.now()),
        requiredClaims: ['iss', 'sub', 'aud', 'iat', 'exp', 'jti'],
      });
      const scope = readScopeClaim(payload);
      if (!scope || typeof payload.jti !== 'string' || payload.jti.length > 128) {
        return deny('unknown', 'The token does not carry a valid modelgate claim');
      }
      const issuer = issuerOf(payload.sub!);
      if (
        !plausibleTimes(payload.iat!, payload.exp!, this.options, this.now() / 1000) ||
        !isCanonicalToken(token) ||
        !issuer
      ) {
        return deny('unknown');
      }
      const reach = { kind: 'claim', scope } as const;
      const base = { jti: payload.jti, kid: protectedHeader.kid!, iat: payload.iat!, exp: payload.exp!, scope, reach };
      return issuer.user === undefined
        ? { ...base, principal: { kind: 'platform_jwt', id: payload.jti } }
        : { ...base, principal: { kind: 'platform_jwt', id: payload.jti, owner: issuer.user }, issuer: issuer.user };
    } catch (err) {
      if (err instanceof errors.JWTExpired) return deny('expired');
      if (err instanceof errors.JOSEError || err instanceof TypeError || err instanceof SyntaxError) {
        return deny('unknown');
      }
      throw err;
    }
  }

  /** The key a token's `kid` names; the key's own algorithm is the only one accepted. */
  private async keyFor(header: JWTHeaderParameters) {
    for (const name of KEY_POINTERS) {
      if (name in header) throw new errors.JWSInvalid('key-carrying header parameters are not accepted');
    }
    if (typeof header.kid !== 'string' || header.kid.length > 64) throw new errors.JWKSNoMatchingKey();
    const key = await this.keys.keyFor(header.kid);
    if (!key || header.alg !== key.alg) throw new errors.JWKSNoMatchingKey();
    return key.key;
  }

  private async reloadRevocations(): Promise<void> {
    this.revocations = await loadLiveRevocations(this.store, this.now());
  }
}

/**
 * Who issued a token, from its `sub` (`<principal kind>:<id>`, as `issueJwt` writes it): a user
 * (bounded by that user's rights now), or a key (every right). Anything else is not a token this
 * node issues to be used with a credential check on: undefined, refused.
 *
 * @example
 * ```ts
 * issuerOf('user:usr_1'); // { user: 'usr_1' }
 * issuerOf('admin_key:ak_1'); // { user: undefined }
 * issuerOf('anonymous:anonymous'); // undefined
 * ```
 */
export function issuerOf(sub: string): { readonly user: string | undefined } | undefined {
  const colon = sub.indexOf(':');
  const kind = sub.slice(0, colon);
  const id = sub.slice(colon + 1);
  if (colon <= 0 || id.length === 0) return undefined;
  if (kind === 'user') return { user: id };
  return (KEY_SUBJECTS as readonly string[]).includes(kind) ? { user: undefined } : undefined;
}

/** `iat` not in the future and a lifetime no longer than the node issues (both with the skew). */
function plausibleTimes(iat: number, exp: number, options: PlatformJwtOptions, nowS: number): boolean {
  return iat <= nowS + options.clockSkewS && exp - iat <= options.maxTtlS + options.clockSkewS;
}
