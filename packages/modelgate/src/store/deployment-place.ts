import type { Store } from './database.js';

/**
 * Where a deployment lives, as permissions decide on it: the names of its service and its
 * infrastructure (read = service read ∧ infrastructure view). Ids are never reused or renamed.
 */
export interface DeploymentPlace {
  readonly service: string;
  readonly infrastructure: string;
}

/**
 * Every deployment with the names of the service and infrastructure it joins (filter it by
 * `deployments.name` or `deployments.id`): the one query behind every place lookup by deployment.
 *
 * @example
 * ```ts
 * const place = await placesQuery(store).where('deployments.name', '=', 'churn-prod').executeTakeFirst();
 * ```
 */
export function placesQuery(store: Store) {
  return store.db
    .selectFrom('deployments')
    .innerJoin('services', 'services.id', 'deployments.service_id')
    .innerJoin('infrastructures', 'infrastructures.id', 'deployments.infrastructure_id')
    .select(['deployments.name as name', 'services.name as service', 'infrastructures.name as infrastructure']);
}

/**
 * The place behind a service id and an infrastructure id (what the data plane's snapshot and a
 * deployment row hold); undefined when either is gone (a deployment being changed).
 */
export async function placeOf(
  store: Store,
  ids: { readonly service_id: string; readonly infrastructure_id: string },
): Promise<DeploymentPlace | undefined> {
  const [service, infrastructure] = await Promise.all([
    store.db.selectFrom('services').select('name').where('id', '=', ids.service_id).executeTakeFirst(),
    store.db.selectFrom('infrastructures').select('name').where('id', '=', ids.infrastructure_id).executeTakeFirst(),
  ]);
  return service && infrastructure ? { service: service.name, infrastructure: infrastructure.name } : undefined;
}
