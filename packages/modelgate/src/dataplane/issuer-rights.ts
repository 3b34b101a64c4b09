import { BoundedCache, RevocableCache } from '../kernel/cache.js';
import { type Denial, deny } from '../kernel/denial.js';
import type { ChangeEvent, EventBus } from '../kernel/event-bus.js';
import { type Actor, canSeeDeployment } from '../kernel/permissions.js';
import { TOPICS } from '../kernel/topics.js';
import { loadActor } from '../store/actor.js';
import type { Store } from '../store/database.js';
import { type DeploymentPlace, placeOf } from '../store/deployment-place.js';

/** A deployment as the data plane holds it: the ids of its service and infrastructure. */
export interface DeploymentPlaceIds {
  readonly service_id: string;
  readonly infrastructure_id: string;
}

/** A user as last read from the store; `actor` is undefined when disabled or deleted. */
interface Issuer {
  readonly id: string;
  readonly actor: Actor | undefined;
}

/** What {@link IssuerRights} answers when the user may read the deployment. */
export const MAY_READ = true;

/**
 * Whether the person behind a data-plane credential (an API token's owner, a platform JWT's
 * issuer) may read a deployment now, decided as the management API decides it: service read ∧
 * infrastructure view (`canSeeDeployment`), and never for a disabled or deleted user. So a
 * credential never opens more than its person may read at this moment.
 *
 * Both the user's rights and the deployment's place (service and infrastructure names) are
 * cached, so a known credential is decided with no store I/O (`peek`). `access.changed` (a
 * grant, a membership, a group's privileges, an ownership, the user disabled or deleted) evicts
 * the user it names, or everyone, on every process (X1).
 *
 * @example
 * ```ts
 * const rights = new IssuerRights(store, bus);
 * const now = rights.peek('usr_1', snapshot) ?? (await rights.decide('usr_1', snapshot));
 * if (now !== MAY_READ) return now; // a Denial
 * ```
 */
export class IssuerRights {
  private readonly issuers: RevocableCache<Issuer>;
  private readonly places = new BoundedCache<DeploymentPlace>(10_000);

  constructor(
    private readonly store: Store,
    bus: EventBus,
    capacity = 50_000,
  ) {
    this.issuers = new RevocableCache<Issuer>(capacity, bus, evictions);
  }

  /**
   * The decision from memory alone: `MAY_READ`, a denial, or undefined when the user or the
   * deployment's place is not cached (then ask `decide`).
   */
  peek(userId: string, deployment: DeploymentPlaceIds): typeof MAY_READ | Denial | undefined {
    const issuer = this.issuers.peek(userId);
    const place = this.places.get(placeKey(deployment));
    return issuer && place ? decide(issuer, place) : undefined;
  }

  /**
   * The decision, reading what is not cached. With `fresh`, the user is read from the store
   * whatever the cache holds: for a decision taken right after a change (an open WebSocket
   * relay re-checked on `access.changed`), which must not depend on the order of bus listeners.
   */
  async decide(userId: string, deployment: DeploymentPlaceIds, fresh = false): Promise<typeof MAY_READ | Denial> {
    const [issuer, place] = await Promise.all([
      fresh ? this.loadIssuer(userId) : this.issuers.get(userId, () => this.loadIssuer(userId)),
      this.placeOf(deployment),
    ]);
    if (!place) return deny('forbidden', 'This deployment is being changed; retry');
    return decide(issuer!, place);
  }

  private async loadIssuer(id: string): Promise<Issuer> {
    const user = await this.store.db.selectFrom('users').select('disabled').where('id', '=', id).executeTakeFirst();
    if (!user || Number(user.disabled) !== 0) return { id, actor: undefined };
    return { id, actor: await loadActor(this.store, { kind: 'user', id }) };
  }

  private async placeOf(deployment: DeploymentPlaceIds): Promise<DeploymentPlace | undefined> {
    const key = placeKey(deployment);
    const cached = this.places.get(key);
    if (cached) return cached;
    const place = await placeOf(this.store, deployment);
    if (place) this.places.set(key, place);
    return place;
  }
}

function decide(issuer: Issuer, place: DeploymentPlace): typeof MAY_READ | Denial {
  if (issuer.actor === undefined) return deny('revoked', "The credential's owner is disabled or deleted");
  if (!canSeeDeployment(issuer.actor, place)) {
    return deny('forbidden', "The credential's owner may not read this deployment");
  }
  return MAY_READ;
}

function placeKey(deployment: DeploymentPlaceIds): string {
  return `${deployment.service_id}|${deployment.infrastructure_id}`;
}

/** `access.changed` evicts the user it names, or everyone (`*`). */
function evictions(event: ChangeEvent): ((issuer: Issuer) => boolean) | undefined {
  if (event.topic !== TOPICS.accessChanged) return undefined;
  return event.subject === '*' ? () => true : (issuer) => issuer.id === event.subject;
}
