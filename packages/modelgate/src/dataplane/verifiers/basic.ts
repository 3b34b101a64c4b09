import { createHmac, randomBytes } from 'node:crypto';
import { type CheckSlots, ExpensiveCheckLimiter, runLimited } from '../../http/expensive-check-limiter.js';
import { BoundedCache } from '../../kernel/cache.js';
import { constantTimeEqual } from '../../kernel/credential.js';
import { type Denial, deny, denyForNow } from '../../kernel/denial.js';
import type { DeploymentSnapshot } from '../../kernel/deployment-snapshot.js';
import type { EventBus } from '../../kernel/event-bus.js';
import { verifyPassword } from '../../kernel/password-hash.js';
import { PendingCheck } from '../../kernel/pending-check.js';
import { TOPICS } from '../../kernel/topics.js';
import type { BasicCredentials, Identity, Proof, Verifier } from '../verifier.js';

/** A deployment revision's Basic settings, from its snapshot. */
export interface BasicScope {
  readonly deployment_id: string;
  /** The deployment's name: what `deployment.changed` names. */
  readonly deployment: string;
  readonly revision: number;
  readonly username: string;
  readonly password_hash: string;
}

/** A pair proven right by a full check, and the deployment whose changes evict it. */
interface Proven {
  readonly identity: Identity;
  readonly deployment: string;
}

/** Proven pairs kept at most; the oldest are forgotten first (only right passwords get in). */
const PROVEN_CAPACITY = 50_000;

/**
 * The cache key of a presented pair under a revision: HMAC-SHA-256 with a key of this process
 * over the revision (deployment id, number and its stored hash, whose salt is new on every
 * deploy) and the pair. Never the password, nor a fast unkeyed hash of it that a memory dump
 * could brute-force; JSON keeps the parts apart whatever bytes they hold.
 */
export function provenKey(key: Buffer, scope: BasicScope, username: string, password: string): string {
  const parts = JSON.stringify([scope.deployment_id, scope.revision, scope.password_hash, username, password]);
  return createHmac('sha256', key).update(parts).digest('base64');
}

/**
 * Verifies Gradient-style Basic credentials (G2): the node-wide username and the password
 * snapshotted at the last (re)deploy. scrypt is slow on purpose, so a success is remembered:
 * a pair proven right once for a revision is answered from memory ({@link provenKey}: one HMAC
 * and a map lookup), never waiting for a password check again, which is what keeps known users
 * in while a spray of wrong passwords fills the checks. A change of the deployment (redeploy,
 * update, delete) evicts its entries; a failed check never adds one.
 */
export class BasicVerifier implements Verifier<BasicCredentials> {
  /** Per process, never stored or sent: keys in the cache mean nothing anywhere else. */
  private readonly hmacKey = randomBytes(32);
  private readonly proven = new BoundedCache<Proven>(PROVEN_CAPACITY);
  /** Bumped on every eviction; a check that started before one is not cached. */
  private generation = 0;

  /**
   * @param slots bounds scrypt checks node-wide and per client, clean clients first (the node's
   * one limiter, or the primary's in a worker); refusals answer 429.
   * @param bus `deployment.changed` evicts that deployment's proven pairs.
   */
  constructor(
    private readonly slots: CheckSlots = new ExpensiveCheckLimiter(16),
    bus?: EventBus,
  ) {
    bus?.subscribe((event) => {
      if (event.topic !== TOPICS.deploymentChanged) return;
      this.generation++;
      if (event.subject === '*') this.proven.clear();
      else this.proven.deleteWhere((entry) => entry.deployment === event.subject);
    });
  }

  /** Only asked for a deployment with a password (`snapshot.basic`): `authorize` refuses Basic elsewhere. */
  verify(credentials: BasicCredentials, snapshot: DeploymentSnapshot): Proof {
    if (!snapshot.basic) return deny('unknown');
    const scope = basicScopeOf(snapshot, snapshot.basic);
    const { username, password } = credentials;
    const cacheKey = provenKey(this.hmacKey, scope, username, password);
    // A map lookup by a keyed digest the caller cannot compute: its timing tells them nothing.
    const hit = this.proven.get(cacheKey);
    if (hit) return hit.identity;
    return new PendingCheck((client) => this.check(username, password, scope, cacheKey, client));
  }

  private async check(
    username: string,
    password: string,
    scope: BasicScope,
    cacheKey: string,
    client: string,
  ): Promise<Identity | Denial> {
    const generation = this.generation;
    const userOk = constantTimeEqual(username, scope.username);
    // Unknown guesses cost ~50 ms of the thread pool each: bound them, clean clients first.
    // Verify even when the username is wrong, so timing does not tell which half was wrong;
    // either half wrong is a failed check, which makes the client suspect.
    const checked = await runLimited(
      this.slots,
      client,
      async () => (await verifyPassword(password, scope.password_hash)) && userOk,
    );
    if (!checked.ran) return denyForNow(checked.charge ? 'throttled' : 'busy', 1, 'Too many password checks at once');
    if (!checked.value) return deny('unknown');
    const identity: Identity = {
      principal: { kind: 'basic', id: `${scope.deployment_id}@${scope.revision}` },
      reach: { kind: 'deployment', deployment_id: scope.deployment_id },
    };
    if (generation === this.generation) this.proven.set(cacheKey, { identity, deployment: scope.deployment });
    return identity;
  }
}

const basicScopes = new WeakMap<DeploymentSnapshot, BasicScope>();

/** The Basic scope of a revision, built once per snapshot rather than per request. */
function basicScopeOf(snapshot: DeploymentSnapshot, basic: NonNullable<DeploymentSnapshot['basic']>): BasicScope {
  let scope = basicScopes.get(snapshot);
  if (scope === undefined) {
    scope = { deployment_id: snapshot.id, deployment: snapshot.name, revision: snapshot.revision, ...basic };
    basicScopes.set(snapshot, scope);
  }
  return scope;
}
