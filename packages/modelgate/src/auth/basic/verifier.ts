import { createHash } from 'node:crypto';
import { verifyPassword } from '../../secrets/password-hash.js';
import { BoundedCache } from '../cache.js';
import { constantTimeEqual } from '../credential.js';
import { type Denial, deny } from '../denial.js';
import { PendingCheck, type Verification } from '../pending-check.js';
import type { Principal } from '../principal.js';
import { LocalPasswordSlots, type PasswordSlots } from './password-slots.js';

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

  /** @param slots the node-wide cap on scrypt checks at once; more are refused (429). */
  constructor(private readonly slots: PasswordSlots = new LocalPasswordSlots(16)) {}

  check(username: string, password: string, scope: BasicScope): Verification {
    const cacheKey = createHash('sha256')
      .update(`${scope.deployment_id}\u0000${scope.revision}\u0000${username}\u0000${password}`)
      .digest('hex');
    // Only a pair that passed the full check below is ever cached: a hit is that same pair.
    const hit = this.cache.get(cacheKey);
    if (hit) return hit;
    return new PendingCheck(() => this.verify(username, password, scope, cacheKey));
  }

  private async verify(
    username: string,
    password: string,
    scope: BasicScope,
    cacheKey: string,
  ): Promise<Principal | Denial> {
    // Unknown guesses cost ~50 ms of the thread pool each: bound them so a flood cannot starve it.
    if (!(await this.slots.acquire())) return deny('throttled', 'Too many password checks at once');
    const userOk = constantTimeEqual(username, scope.username);
    let passwordOk: boolean;
    try {
      // Verify even when the username is wrong, so timing does not tell which half was wrong.
      passwordOk = await verifyPassword(password, scope.password_hash);
    } finally {
      this.slots.release();
    }
    if (!userOk || !passwordOk) return deny('unknown');
    const principal: Principal = { kind: 'basic', id: `${scope.deployment_id}@${scope.revision}` };
    this.cache.set(cacheKey, principal);
    return principal;
  }
}
