import { loadActor } from '../../access/actor.js';
import { type Actor, canSeeDeployment } from '../../access/permissions.js';
import type { DeploymentSnapshot } from '../../control/snapshot.js';
import type { ChangeEvent, EventBus } from '../../events/bus.js';
import { TOPICS } from '../../events/topics.js';
import type { Store } from '../../store/database.js';
import { BoundedCache, RevocableCache } from '../cache.js';
import type { ParsedCredential } from '../credential.js';
import { type Denial, deny } from '../denial.js';
import { PendingCheck, type Verification } from '../pending-check.js';
import type { Principal } from '../principal.js';
import { findTokenByHash, findTokenById, type StoredToken } from './lookup.js';
import { endpointDenial, lifeDenial } from './scope.js';

interface KnownToken extends StoredToken {
  /** The owner's rights when the token was loaded; dropped with it on `access.changed`. */
  readonly actor: Actor;
  /** Built once per cached token, so a hit allocates nothing. */
  readonly principal: Principal;
}

/** The names a deployment's service and infrastructure have (ids are never reused or renamed). */
interface Place {
  readonly service: string;
  readonly infrastructure: string;
}

/**
 * Verifies API tokens on the data plane (B5). A known token is decided synchronously from a
 * bounded cache keyed by hash, holding the token and its owner's rights, so the hot path does no
 * store I/O. `api_token.deleted` and `api_token.rolled` evict it by id and `access.changed` evicts
 * every token of the user it names (or all), on every process (X1). An unknown token becomes a
 * `PendingCheck`, run behind the gateway's failure throttling.
 *
 * A token opens a deployment when it is usable (not expired, retired or owned by a disabled
 * user), its endpoint access covers the deployment, and its owner may read the deployment
 * (service read ∧ infrastructure view); otherwise 401 or 403.
 */
export class ApiTokenVerifier {
  private readonly known: RevocableCache<KnownToken>;
  private readonly places = new BoundedCache<Place>(10_000);

  constructor(
    private readonly store: Store,
    bus: EventBus,
    private readonly now: () => number = Date.now,
  ) {
    this.known = new RevocableCache<KnownToken>(50_000, bus, evictions);
  }

  check(credential: ParsedCredential, snapshot: DeploymentSnapshot): Verification {
    const hit = this.known.peek(credential.hash);
    if (hit) {
      const early = this.refusal(hit, snapshot);
      if (early) return early;
      const place = this.places.get(placeKey(snapshot));
      if (place) return decide(hit, place);
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
    return this.verdict(await this.load(findTokenById, id), snapshot);
  }

  /** The decision once the token (or its absence) is known: its life, its scope, its owner's rights. */
  private async verdict(token: KnownToken | undefined, snapshot: DeploymentSnapshot): Promise<Principal | Denial> {
    if (!token) return deny('unknown');
    const early = this.refusal(token, snapshot);
    if (early) return early;
    const place = await this.placeOf(snapshot);
    return place ? decide(token, place) : deny('forbidden', 'This deployment is being changed; retry');
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
    const actor = await loadActor(this.store, { kind: 'user', id: token.user_id });
    const principal: Principal = {
      kind: 'api_token',
      id: token.id,
      owner: token.user_id,
      ...(token.retiresAt === null ? {} : { retiresAt: token.retiresAt }),
    };
    return { ...token, actor, principal };
  }

  private async placeOf(snapshot: DeploymentSnapshot): Promise<Place | undefined> {
    const key = placeKey(snapshot);
    const cached = this.places.get(key);
    if (cached) return cached;
    const [service, infrastructure] = await Promise.all([
      this.store.db.selectFrom('services').select('name').where('id', '=', snapshot.service_id).executeTakeFirst(),
      this.store.db
        .selectFrom('infrastructures')
        .select('name')
        .where('id', '=', snapshot.infrastructure_id)
        .executeTakeFirst(),
    ]);
    if (!service || !infrastructure) return undefined;
    const place = { service: service.name, infrastructure: infrastructure.name };
    this.places.set(key, place);
    return place;
  }
}

function decide(token: KnownToken, place: Place): Principal | Denial {
  if (!canSeeDeployment(token.actor, place)) {
    return deny('forbidden', "The token's owner may not read this deployment");
  }
  return token.principal;
}

function placeKey(snapshot: DeploymentSnapshot): string {
  return `${snapshot.service_id}|${snapshot.infrastructure_id}`;
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
