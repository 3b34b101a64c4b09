import { RevocableCache } from '../../kernel/cache.js';
import type { ParsedCredential } from '../../kernel/credential.js';
import { type Denial, deny } from '../../kernel/denial.js';
import type { DeploymentSnapshot } from '../../kernel/deployment-snapshot.js';
import { endpointDenial, lifeDenial } from '../../kernel/endpoint-access.js';
import type { ChangeEvent, EventBus } from '../../kernel/event-bus.js';
import { PendingCheck, type Verification } from '../../kernel/pending-check.js';
import type { Principal } from '../../kernel/principal.js';
import { TOPICS } from '../../kernel/topics.js';
import { findTokenByHash, findTokenById, type StoredToken } from '../../store/api-token-lookup.js';
import type { Store } from '../../store/database.js';
import { IssuerRights, MAY_READ } from './issuer-rights.js';

interface KnownToken extends StoredToken {
  /** Built once per cached token, so a hit allocates nothing. */
  readonly principal: Principal;
}

/**
 * Verifies API tokens on the data plane (B5). A known token is decided synchronously from a
 * bounded cache keyed by hash, and its owner's rights from {@link IssuerRights}, so the hot path
 * does no store I/O. `api_token.deleted` and `api_token.rolled` evict it by id and
 * `access.changed` evicts every token of the user it names (or all), on every process (X1). An unknown token becomes a
 * `PendingCheck`, run behind the gateway's failure throttling.
 *
 * A token opens a deployment when it is usable (not expired, retired or owned by a disabled
 * user), its endpoint access covers the deployment, and its owner may read the deployment
 * (service read ∧ infrastructure view); otherwise 401 or 403.
 */
export class ApiTokenVerifier {
  private readonly known: RevocableCache<KnownToken>;
  private readonly rights: IssuerRights;

  constructor(
    private readonly store: Store,
    bus: EventBus,
    private readonly now: () => number = Date.now,
    /** The process's cache of people's rights, shared with the platform JWT verifier. */
    rights: IssuerRights = new IssuerRights(store, bus),
  ) {
    this.known = new RevocableCache<KnownToken>(50_000, bus, evictions);
    this.rights = rights;
  }

  check(credential: ParsedCredential, snapshot: DeploymentSnapshot): Verification {
    const hit = this.known.peek(credential.hash);
    if (hit) {
      const early = this.refusal(hit, snapshot);
      if (early) return early;
      const owner = this.rights.peek(hit.user_id, snapshot);
      if (owner !== undefined) return owner === MAY_READ ? hit.principal : owner;
    }
    return new PendingCheck(async () =>
      this.verdict(await this.known.get(credential.hash, () => this.load(findTokenByHash, credential.hash)), snapshot),
    );
  }

  /**
   * Decides a token by id as a request with it would be decided now, for an open WebSocket relay
   * (which keeps no secret): read from the store, not the cache, since it runs after a change.
   */
  async recheck(id: string, snapshot: DeploymentSnapshot): Promise<Principal | Denial> {
    return this.verdict(await this.load(findTokenById, id), snapshot, true);
  }

  /** The decision once the token (or its absence) is known: its life, its scope, its owner's rights. */
  private async verdict(
    token: KnownToken | undefined,
    snapshot: DeploymentSnapshot,
    fresh = false,
  ): Promise<Principal | Denial> {
    if (!token) return deny('unknown');
    const early = this.refusal(token, snapshot);
    if (early) return early;
    const owner = await this.rights.decide(token.user_id, snapshot, fresh);
    return owner === MAY_READ ? token.principal : owner;
  }

  /** What refuses the token before the owner's rights are asked: its life, then its scope. */
  private refusal(token: KnownToken, snapshot: DeploymentSnapshot): Denial | undefined {
    return lifeDenial(token, this.now()) ?? endpointDenial(token.endpoint, snapshot.name);
  }

  private async load(
    find: (store: Store, key: string) => Promise<StoredToken | undefined>,
    key: string,
  ): Promise<KnownToken | undefined> {
    const token = await find(this.store, key);
    if (!token) return undefined;
    const principal: Principal = {
      kind: 'api_token',
      id: token.id,
      owner: token.user_id,
      ...(token.retiresAt === null ? {} : { retiresAt: token.retiresAt }),
    };
    return { ...token, principal };
  }
}

/** `api_token.deleted` and `api_token.rolled` evict one token by id; `access.changed` every token of a user, or all. */
function evictions(event: ChangeEvent): ((token: KnownToken) => boolean) | undefined {
  if (event.topic === TOPICS.apiTokenDeleted || event.topic === TOPICS.apiTokenRolled) {
    return (token) => token.id === event.subject;
  }
  if (event.topic === TOPICS.accessChanged) {
    return event.subject === '*' ? () => true : (token) => token.user_id === event.subject;
  }
  return undefined;
}
