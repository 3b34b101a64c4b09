import {
  type Actor,
  GLOBAL_PRIVILEGES,
  type GlobalPrivilege,
  type Holding,
  RESOURCE_COLLECTIONS,
  SUPERUSER,
} from '../kernel/permissions.js';
import type { Principal } from '../kernel/principal.js';
import type { Store } from './database.js';

/**
 * Reads what the store says about a caller, fresh on every request: no permission cache, so a
 * grant removed, a membership ended or a user disabled is in force on the very next request on
 * every process sharing the store. Keys (node, admin) and anonymous callers are superusers.
 */
export async function loadActor(store: Store, principal: Pick<Principal, 'kind' | 'id'>): Promise<Actor> {
  if (principal.kind !== 'user') return SUPERUSER;
  const groups = await store.db
    .selectFrom('group_members')
    .innerJoin('groups', 'groups.id', 'group_members.group_id')
    .select(['groups.id', 'groups.privileges'])
    .where('group_members.user_id', '=', principal.id)
    .execute();
  const privileges = new Set<GlobalPrivilege>(
    groups.flatMap((g) => parsePrivileges(g.privileges)).filter((p) => GLOBAL_PRIVILEGES.includes(p)),
  );
  if (privileges.has('admin')) return { ...SUPERUSER, privileges };
  const groupIds = groups.map((g) => g.id);
  const holdings = {
    infrastructure: new Map<string, Holding>(),
    service: new Map<string, Holding>(),
    secret: new Map<string, Holding>(),
  };
  for (const type of ['infrastructure', 'service', 'secret'] as const) {
    // All three tables have `id` and `name`; one spelling keeps kysely's types simple.
    const table = RESOURCE_COLLECTIONS[type] as 'services';
    const granted =
      groupIds.length === 0
        ? []
        : await store.db
            .selectFrom('grants')
            .innerJoin(table, `${table}.id`, 'grants.resource_id')
            .select([`${table}.name as name`, 'grants.rights as rights'])
            .where('grants.resource_type', '=', type)
            .where('grants.group_id', 'in', groupIds)
            .execute();
    for (const row of granted) {
      const held = holdings[type].get(row.name);
      const rights = [...(held?.rights ?? []), ...parsePrivileges(row.rights)];
      holdings[type].set(row.name, { rights, owner: held?.owner ?? false });
    }
    if (type === 'infrastructure') continue;
    const owned = await store.db
      .selectFrom('owners')
      .innerJoin(table, `${table}.id`, 'owners.resource_id')
      .select(`${table}.name as name`)
      .where('owners.resource_type', '=', type)
      .where('owners.user_id', '=', principal.id)
      .execute();
    for (const row of owned) {
      holdings[type].set(row.name, { rights: holdings[type].get(row.name)?.rights ?? [], owner: true });
    }
  }
  return { superuser: false, privileges, holdings };
}

function parsePrivileges(json: string): GlobalPrivilege[] {
  try {
    const value = JSON.parse(json) as unknown;
    return Array.isArray(value) ? (value.filter((v) => typeof v === 'string') as GlobalPrivilege[]) : [];
  } catch {
    return [];
  }
}
