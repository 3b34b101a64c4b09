import { verifyPassword } from '../../secrets/password-hash.js';
import { BoundedCache } from '../cache.js';
import { constantTimeEqual, hashCredential } from '../credential.js';
import { type Denial, deny, denyForNow } from '../denial.js';
import { type CheckSlots, ExpensiveCheckLimiter, runLimited } from '../expensive-check-limiter.js';
import { PendingCheck, type Verification } from '../pending-check.js';
import type { Principal } from '../principal.js';

/** A deployment revision's Basic settings, from its snapshot. */
export interface BasicScope {
  readonly deployment_id: string;
  readonly revision: number;
  readonly username: string;
  readonly password_hash: string;
}

/**
 * Verifies Gradient-style Basic credentials (G2): the node-wide username and the password
 * snapshotted at the last (re)deploy. scrypt is slow on purpose, so a success is remembered
 * per revision: the cache key is one SHA-256 of revision, username and password, so a hit
 * costs one hash and a redeploy makes old entries useless.
 */
export class BasicVerifier {
  private readonly cache = new BoundedCache<Principal>(50_000);

  /**
   * @param slots bounds scrypt checks node-wide and per client (the node's one limiter, or the
   * primary's in a worker); refusals answer 429.
   */
  constructor(private readonly slots: CheckSlots = new ExpensiveCheckLimiter(16)) {}

  check(username: string, password: string, scope: BasicScope): Verification {
    // JSON keeps the parts apart whatever bytes they hold (a NUL separator would not).
    const cacheKey = hashCredential(JSON.stringify([scope.deployment_id, scope.revision, username, password]));
    // Only a pair that passed the full check below is ever cached: a hit is that same pair.
    const hit = this.cache.get(cacheKey);
    if (hit) return hit;
    return new PendingCheck((client) => this.verify(username, password, scope, cacheKey, client));
  }

  private async verify(
    username: string,
    password: string,
    scope: BasicScope,
    cacheKey: string,
    client: string,
  ): Promise<Principal | Denial> {
    const userOk = constantTimeEqual(username, scope.username);
    // Unknown guesses cost ~50 ms of the thread pool each: bound them, fairly per client.
    // Verify even when the username is wrong, so timing does not tell which half was wrong.
    const checked = await runLimited(this.slots, client, () => verifyPassword(password, scope.password_hash));
    if (!checked.ran) return denyForNow(checked.charge ? 'throttled' : 'busy', 1, 'Too many password checks at once');
    if (!userOk || !checked.value) return deny('unknown');
    const principal: Principal = { kind: 'basic', id: `${scope.deployment_id}@${scope.revision}` };
    this.cache.set(cacheKey, principal);
    return principal;
  }
}
