/**
 * The one place that decides who may do what on the management API (issue 8, Dataiku D2–D5).
 * Pure: an actor (what the store says about the caller) and a request → allow, or a typed
 * denial. Routes ask `decide` and nothing else decides. A target the actor may not even read is
 * `hidden` (answered 404 exactly like a name that does not exist); a readable target without
 * the needed right is `forbidden`, naming the missing right.
 */

export const GLOBAL_PRIVILEGES = ['admin', 'create_service'] as const;
export const INFRASTRUCTURE_RIGHTS = ['view', 'deploy', 'admin'] as const;
export const SERVICE_RIGHTS = ['read', 'write', 'deploy', 'admin'] as const;
export const SECRET_RIGHTS = ['use', 'admin'] as const;

export type GlobalPrivilege = (typeof GLOBAL_PRIVILEGES)[number];
export type InfrastructureRight = (typeof INFRASTRUCTURE_RIGHTS)[number];
export type ServiceRight = (typeof SERVICE_RIGHTS)[number];
export type SecretRight = (typeof SECRET_RIGHTS)[number];
export type ResourceType = 'infrastructure' | 'service' | 'secret';

/**
 * The plural each resource type goes by: its store table and its management API collection
 * (`/api/v1/<plural>/<name>/grants`) alike.
 */
export const RESOURCE_COLLECTIONS: Readonly<Record<ResourceType, 'infrastructures' | 'services' | 'secrets'>> = {
  infrastructure: 'infrastructures',
  service: 'services',
  secret: 'secrets',
};

export const RIGHTS_BY_TYPE: Readonly<Record<ResourceType, readonly string[]>> = {
  infrastructure: INFRASTRUCTURE_RIGHTS,
  service: SERVICE_RIGHTS,
  secret: SECRET_RIGHTS,
};

/** What a caller holds on one resource: granted rights (any group) and whether it owns it. */
export interface Holding {
  readonly rights: readonly string[];
  readonly owner: boolean;
}

/**
 * The caller as permissions see it. `superuser` is a node key, an admin key, anonymous (token
 * authorization off) or a user with the `admin` privilege. Holdings are keyed by resource name.
 */
export interface Actor {
  readonly superuser: boolean;
  readonly privileges: ReadonlySet<GlobalPrivilege>;
  readonly holdings: Readonly<Record<ResourceType, ReadonlyMap<string, Holding>>>;
}

/** The right a denial names: `service:deploy`, `infrastructure:view`, `global:admin`, ... */
export type MissingRight =
  | `global:${GlobalPrivilege}`
  | `infrastructure:${InfrastructureRight}`
  | `service:${ServiceRight}`
  | `secret:${SecretRight}`;

export type Decision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly denied: 'hidden'; readonly type: ResourceType; readonly name: string }
  | { readonly allowed: false; readonly denied: 'forbidden'; readonly missing: MissingRight };

/** What a request needs. A deployment is named by the service and infrastructure it joins. */
export type Need =
  | { readonly global: GlobalPrivilege }
  | { readonly infrastructure: string; readonly right: InfrastructureRight }
  | { readonly service: string; readonly right: ServiceRight }
  | { readonly secret: string; readonly right: SecretRight }
  | {
      readonly deployment: { readonly service: string; readonly infrastructure: string };
      readonly right: 'read' | 'deploy';
    };

/**
 * The need for one right on a resource named by its type, for routes that serve all three types.
 * `any` asks only that the resource be visible (the right every other one implies).
 */
export function resourceNeed(type: ResourceType, name: string, right: 'admin' | 'any'): Need {
  if (type === 'service') return { service: name, right: right === 'any' ? 'read' : 'admin' };
  if (type === 'infrastructure') return { infrastructure: name, right: right === 'any' ? 'view' : 'admin' };
  return { secret: name, right: right === 'any' ? 'use' : 'admin' };
}

/**
 * Rights that come with another: `admin` holds them all; on a service every right includes
 * `read` (nobody deploys what they cannot see); `deploy` on an infrastructure includes `view`.
 */
const IMPLIED: Readonly<Record<ResourceType, Readonly<Record<string, readonly string[]>>>> = {
  infrastructure: { view: ['view'], deploy: ['deploy', 'view'], admin: ['admin', 'deploy', 'view'] },
  service: {
    read: ['read'],
    write: ['write', 'read'],
    deploy: ['deploy', 'read'],
    admin: ['admin', 'deploy', 'write', 'read'],
  },
  secret: { use: ['use'], admin: ['admin', 'use'] },
};

/** Every right the actor effectively has on a resource (owners and superusers: all of them). */
export function effectiveRights(actor: Actor, type: ResourceType, name: string): ReadonlySet<string> {
  if (actor.superuser) return new Set(RIGHTS_BY_TYPE[type]);
  const holding = actor.holdings[type].get(name);
  if (!holding) return new Set();
  if (holding.owner) return new Set(RIGHTS_BY_TYPE[type]);
  return new Set(holding.rights.flatMap((r) => IMPLIED[type][r] ?? []));
}

/**
 * Whether the actor may see a resource's name at all: any right on it. Listings keep only these.
 * A deployment is visible when its service is readable and its infrastructure viewable.
 */
export function canSee(actor: Actor, type: ResourceType, name: string): boolean {
  return effectiveRights(actor, type, name).size > 0;
}

export function canSeeDeployment(actor: Actor, deployment: { service: string; infrastructure: string }): boolean {
  return (
    effectiveRights(actor, 'service', deployment.service).has('read') &&
    effectiveRights(actor, 'infrastructure', deployment.infrastructure).has('view')
  );
}

/**
 * Whether the actor could create some deployment: `deploy` on at least one service and on at
 * least one infrastructure (users cannot have missing ones made on the way; superusers can). A
 * client asks this to offer "New deployment" only to who the create route may allow.
 *
 * @example
 * ```ts
 * mayCreateDeployment(SUPERUSER); // true
 * ```
 */
export function mayCreateDeployment(actor: Actor): boolean {
  if (actor.superuser) return true;
  const deploysTo = (type: 'service' | 'infrastructure') =>
    [...actor.holdings[type].keys()].some((name) => effectiveRights(actor, type, name).has('deploy'));
  return deploysTo('service') && deploysTo('infrastructure');
}

const ALLOW: Decision = Object.freeze({ allowed: true });

/**
 * Decides one request.
 *
 * @example
 * ```ts
 * decide(actor, { deployment: { service: 'churn', infrastructure: 'prod' }, right: 'deploy' });
 * // → { allowed: false, denied: 'forbidden', missing: 'infrastructure:deploy' }
 * ```
 */
export function decide(actor: Actor, need: Need): Decision {
  if (actor.superuser) return ALLOW;
  if ('global' in need) {
    return actor.privileges.has(need.global) ? ALLOW : forbidden(`global:${need.global}`);
  }
  if ('deployment' in need) {
    const { service, infrastructure } = need.deployment;
    const s = effectiveRights(actor, 'service', service);
    const i = effectiveRights(actor, 'infrastructure', infrastructure);
    if (!s.has('read')) return hidden('service', service);
    if (!i.has('view')) return hidden('infrastructure', infrastructure);
    if (need.right === 'read') return ALLOW;
    if (!s.has('deploy')) return forbidden('service:deploy');
    if (!i.has('deploy')) return forbidden('infrastructure:deploy');
    return ALLOW;
  }
  const [type, name, right] =
    'service' in need
      ? (['service', need.service, need.right] as const)
      : 'infrastructure' in need
        ? (['infrastructure', need.infrastructure, need.right] as const)
        : (['secret', need.secret, need.right] as const);
  const rights = effectiveRights(actor, type, name);
  if (rights.size === 0) return hidden(type, name);
  return rights.has(right) ? ALLOW : forbidden(`${type}:${right}` as MissingRight);
}

function hidden(type: ResourceType, name: string): Decision {
  return { allowed: false, denied: 'hidden', type, name };
}

function forbidden(missing: MissingRight): Decision {
  return { allowed: false, denied: 'forbidden', missing };
}

/** The actor of node keys, admin keys and anonymous callers: full control. */
export const SUPERUSER: Actor = Object.freeze({
  superuser: true,
  privileges: new Set<GlobalPrivilege>(GLOBAL_PRIVILEGES),
  holdings: { infrastructure: new Map(), service: new Map(), secret: new Map() },
});
