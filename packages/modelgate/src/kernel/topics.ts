/**
 * Every topic of a revoking change, in one place: publishers and the caches that evict on them
 * must agree on the spelling. Subjects are ids or names, never secrets.
 */
export const TOPICS = {
  /** Subject: the deployment name. Its route is reloaded; its open WebSockets are closed. */
  deploymentChanged: 'deployment.changed',
  /** Subject: the API key id. */
  apiKeyDeleted: 'api_key.deleted',
  /** Subject: the API token id. Its cache lines are evicted; its open WebSockets are closed. */
  apiTokenDeleted: 'api_token.deleted',
  /** Subject: the API token id. It was rolled (X2): cached copies are reloaded with its retirement time. */
  apiTokenRolled: 'api_token.rolled',
  /** Subject: the API key id. It was rolled (X2): cached copies are reloaded with its retirement time. */
  apiKeyRolled: 'api_key.rolled',
  /**
   * Subject: a user id, or `*` for everyone. What a user may do changed (a grant, a membership, a
   * group's privileges, an ownership, the user disabled or deleted): caches of what a user's
   * credentials may open are dropped.
   */
  accessChanged: 'access.changed',
  /** Subject: the admin key id. */
  adminKeyDeleted: 'admin_key.deleted',
  /** Subject: the new current key's kid. Every process reloads its signing keys. */
  signingKeyRotated: 'signing_key.rotated',
  /** Subject: the revocation id. Every process reloads its JWT revocations and drops cached JWTs. */
  jwtRevoked: 'jwt.revoked',
  /** Subject: the key renewed (`management`, `inference`). Replicas sharing the cluster's node keys reload them. */
  nodeKeysRotated: 'node_keys.rotated',
} as const;

/** One of the {@link TOPICS}: the only topics a change can be announced or heard under. */
export type Topic = (typeof TOPICS)[keyof typeof TOPICS];

const KNOWN: ReadonlySet<string> = new Set(Object.values(TOPICS));

/**
 * Whether a topic read from outside this process (the store's change log, a worker message) is
 * one this build knows. A newer replica's topic is not: no cache here listens for it.
 *
 * @example
 * ```ts
 * isTopic('api_key.deleted'); // true
 * isTopic('gadget.changed');  // false
 * ```
 */
export function isTopic(value: unknown): value is Topic {
  return typeof value === 'string' && KNOWN.has(value);
}
