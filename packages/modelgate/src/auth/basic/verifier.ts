import { createHash } from 'node:crypto';
import { verifyPassword } from '../../secrets/password-hash.js';
import { BoundedCache } from '../cache.js';
import { constantTimeEqual } from '../credential.js';
import { type Denial, deny, denyForNow } from '../denial.js';
import { ExpensiveCheckLimiter } from '../expensive-check-limiter.js';
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
 * per revision: the cache key includes the revision, so a redeploy makes old entries useless.
 */
export class BasicVerifier {
  private readonly cache = new BoundedCache<true>(50_000);

  /** @param limiter bounds scrypt checks node-wide and per client; refusals answer 429. */
  constructor(private readonly limiter = new ExpensiveCheckLimiter(16)) {}

  /** @param client the caller's throttling key (its address), for its share of the limiter. */
  async verify(username: string, password: string, scope: BasicScope, client: string): Promise<Principal | Denial> {
    const userOk = constantTimeEqual(username, scope.username);
    // JSON keeps the parts apart whatever bytes they hold (a NUL separator would not).
    const cacheKey = createHash('sha256')
      .update(JSON.stringify([scope.deployment_id, scope.revision, username, password]))
      .digest('hex');
    if (userOk && this.cache.get(cacheKey)) return { kind: 'basic', id: `${scope.deployment_id}@${scope.revision}` };
    // Unknown guesses cost ~50 ms of the thread pool each: bound them, fairly per client.
    // Verify even when the username is wrong, so timing does not tell which half was wrong.
    const checked = await this.limiter.run(client, () => verifyPassword(password, scope.password_hash));
    if (!checked.ran) return denyForNow(checked.charge ? 'throttled' : 'busy', 1, 'Too many password checks at once');
    if (!userOk || !checked.value) return deny('unknown');
    this.cache.set(cacheKey, true);
    return { kind: 'basic', id: `${scope.deployment_id}@${scope.revision}` };
  }
}
