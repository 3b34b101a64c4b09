import { errors, type JWTHeaderParameters, jwtVerify } from 'jose';
import { BoundedCache } from '../../kernel/cache.js';
import { hashCredential } from '../../kernel/credential.js';
import { type Denial, deny } from '../../kernel/denial.js';
import type { DeploymentSnapshot } from '../../kernel/deployment-snapshot.js';
import type { EventBus } from '../../kernel/event-bus.js';
import {
  isCanonicalToken,
  looksLikeJwt,
  PLATFORM_JWT_AUDIENCE,
  PLATFORM_JWT_TYPE,
  readScopeClaim,
  type ScopeClaim,
  scopeCovers,
} from '../../kernel/jwt-claims.js';
import { PendingCheck, type Verification } from '../../kernel/pending-check.js';
import type { PlatformJwtPrincipal, Principal } from '../../kernel/principal.js';
import { TOPICS } from '../../kernel/topics.js';
import type { SigningKeyRing } from '../../keys/signing-keys.js';
import type { Store } from '../../store/database.js';
import { isRevokedBy, loadLiveRevocations, type Revocation } from '../../store/jwt-revocations.js';
import { IssuerRights, MAY_READ } from './issuer-rights.js';

/** A verified token, as cached until its `exp`. */
interface VerifiedToken {
  readonly jti: string;
  /** The key that signed it: a cached token is refused once that key is no longer trusted. */
  readonly kid: string;
  readonly iat: number;
  readonly exp: number;
  readonly scope: ScopeClaim;
  /** Built once per verified token, so a hit allocates nothing; `owner` is the issuing user's id. */
  readonly principal: PlatformJwtPrincipal;
}

/** What the gateway knows of the deployment a token is presented to. */
type Target = Pick<DeploymentSnapshot, 'id' | 'infrastructure_id' | 'service_id'>;

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
  /** The process's cache of people's rights, shared with the API token verifier; one of its own if not given. */
  readonly issuerRights?: IssuerRights;
}

/**
 * Verifies platform JWTs on the data plane. A token is verified once with `jose` (the key is
 * chosen by `kid`, and the key alone decides the algorithm), then cached by its hash until its
 * `exp`, so a known token costs a hash and a map lookup. A revocation clears the cache and
 * reloads the revocation list on every process.
 *
 * A token a user issued (`sub` `user:<id>`) never opens more than that user may read now: its
 * scope must cover the deployment and the user may read it ({@link IssuerRights}, as the
 * management API decides; cached, evicted on `access.changed`), and is not disabled or deleted.
 * A token a key issued opens what its scope says.
 */
export class PlatformJwtVerifier {
  private readonly cache = new BoundedCache<VerifiedToken>(50_000);
  private revocations: Revocation[] = [];
  /** Tokens admitted so far, by jti: what a revocation is checked against for open WebSockets. */
  private readonly admitted = new BoundedCache<VerifiedToken>(50_000);
  private reloading: Promise<void> = Promise.resolve();
  /** Bumped on every revocation; a verification that started before one is not cached. */
  private generation = 0;
  private readonly rights: IssuerRights;
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    private readonly keys: SigningKeyRing,
    private readonly options: PlatformJwtOptions,
    bus: EventBus,
  ) {
    this.now = options.now ?? Date.now;
    this.rights = options.issuerRights ?? new IssuerRights(store, bus);
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
   * cache) is decided from memory like an API key, its issuer's rights too when cached; anything
   * else is a `PendingCheck`.
   *
   * @returns the principal (`platform_jwt:<jti>`), or `malformed`, `unknown` (bad signature,
   * key, algorithm, issuer, audience or type, or a key retired too long ago), `expired`, `revoked`
   * (also: its issuing user is disabled or deleted), or `forbidden` (a token for another
   * deployment or infrastructure, or one whose issuing user may not read this deployment now); a
   * `PendingCheck` resolving to one of those.
   */
  check(token: string, deployment: Target): Verification {
    if (!looksLikeJwt(token)) return deny('malformed', 'The token is not a well-formed JWT');
    const hash = hashCredential(token);
    const verified = this.cache.get(hash);
    if (verified === undefined) return new PendingCheck(() => this.verifyUncached(token, hash, deployment));
    const refused = this.standing(verified, deployment);
    if (refused) {
      if (refused.denied !== 'forbidden') this.cache.delete(hash);
      return refused;
    }
    const owner = verified.principal.owner;
    if (owner === undefined) return verified.principal;
    const decided = this.rights.peek(owner, deployment);
    if (decided === undefined) return new PendingCheck(() => this.issuerVerdict(verified, deployment));
    return decided === MAY_READ ? verified.principal : decided;
  }

  /**
   * Decides an admitted token (by jti) as a new request with it would be decided now, for an
   * open WebSocket relay (which keeps no token) after its issuer's access changed: revoked,
   * expired, its key no longer trusted, outside its scope, or its issuer's rights read afresh.
   * A token this process no longer remembers is refused (the caller reconnects).
   */
  async recheck(jti: string, deployment: Target): Promise<Principal | Denial> {
    await this.reloading.catch(() => this.reloadRevocations());
    const token = this.admitted.get(jti);
    if (token === undefined) return deny('revoked', 'This token is no longer known here; reconnect');
    if (this.revocations.some((r) => isRevokedBy(token, r))) return deny('revoked');
    return this.standing(token, deployment) ?? this.issuerVerdict(token, deployment, true);
  }

  private async verifyUncached(token: string, hash: string, deployment: Target): Promise<Principal | Denial> {
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
    return scopeDenial(result, deployment) ?? this.issuerVerdict(result, deployment);
  }

  /** What refuses a verified token whoever issued it: its life, its key's trust, its scope. */
  private standing(token: VerifiedToken, deployment: Target): Denial | undefined {
    if (token.exp + this.options.clockSkewS <= this.now() / 1000) return deny('expired');
    // Its key retired long enough ago (by time, on every process): refused as a forged token is.
    if (!this.keys.trusts(token.kid)) return deny('unknown');
    return scopeDenial(token, deployment);
  }

  /** The token's principal if its issuing user (if any) may read the deployment now. */
  private async issuerVerdict(token: VerifiedToken, deployment: Target, fresh = false): Promise<Principal | Denial> {
    const owner = token.principal.owner;
    if (owner === undefined) return token.principal;
    const decided = await this.rights.decide(owner, deployment, fresh);
    return decided === MAY_READ ? token.principal : decided;
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
      const principal: Principal =
        issuer.user === undefined
          ? { kind: 'platform_jwt', id: payload.jti }
          : { kind: 'platform_jwt', id: payload.jti, owner: issuer.user };
      return { jti: payload.jti, kid: protectedHeader.kid!, iat: payload.iat!, exp: payload.exp!, scope, principal };
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

/** The refusal of a token whose claim does not cover the deployment (403), else undefined. */
function scopeDenial(token: VerifiedToken, deployment: Target): Denial | undefined {
  return scopeCovers(token.scope, deployment)
    ? undefined
    : deny('forbidden', 'This token is for another deployment or infrastructure');
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
