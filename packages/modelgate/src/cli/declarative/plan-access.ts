import { RESOURCE_COLLECTIONS, type ResourceType } from '../../kernel/permissions.js';
import { type Action, action, api } from './action.js';
import type { CurrentAccess } from './current.js';
import type { DesiredAccess } from './schema.js';

/** What the rest of the plan knows about resources, for the grants' targets. */
export interface ResourceNames {
  /** Whether the resource is on the node or created by this plan. */
  readonly known: (type: ResourceType, name: string) => boolean;
  /** Whether this plan deletes it (with `--prune`): its grants go with it. */
  readonly deleted: (type: ResourceType, name: string) => boolean;
}

export interface AccessPlan {
  readonly creates: Action[];
  /** Privilege and member changes, then grants: after every creation, since grants name new resources. */
  readonly updates: Action[];
  readonly deletes: Action[];
  /** Names the file uses that neither the file nor the node has (`APPLY_REFERENCE_UNKNOWN`). */
  readonly unknown: string[];
}

const sorted = (xs: readonly string[]) => [...xs].sort();
const sameSet = (a: readonly string[], b: readonly string[]) => sorted(a).join(',') === sorted(b).join(',');
const list = (xs: readonly string[]) => `[${sorted(xs).join(', ')}]`;

/**
 * Plans the groups and grants of a version 2 file through the same API routes `modelgate groups`
 * and `modelgate grants` use (so audit records and access-change events happen as they do there).
 * Pure. Like the other sections: what is missing is created, what differs is updated, a field
 * left out is not managed, and only `prune` removes (groups, members of a group whose `members`
 * the file gives, grants) what the file does not name.
 */
export function planAccess(
  desired: DesiredAccess,
  current: CurrentAccess,
  resources: ResourceNames,
  prune: boolean,
): AccessPlan {
  const plan: AccessPlan = { creates: [], updates: [], deletes: [], unknown: [] };
  const users = new Set(current.usernames);
  const currentGroups = new Map(current.groups.map((g) => [g.name, g]));
  const desiredGroups = new Set(desired.groups.map((g) => g.name));

  desired.groups.forEach((g, i) => {
    for (const m of g.members ?? []) {
      if (!users.has(m)) plan.unknown.push(`groups[${i}].members: user "${m}" is not on the node (create it first)`);
    }
    const members = (g.members ?? []).filter((m) => users.has(m));
    const c = currentGroups.get(g.name);
    const addMembers = (have: readonly string[]) =>
      members
        .filter((m) => !have.includes(m))
        .map((m) => ({ method: 'PUT' as const, path: api('groups', g.name, 'members', m) }));
    if (!c) {
      const privileges = g.privileges ?? [];
      const changes = [`privileges ${list(privileges)}`, ...(members.length > 0 ? [`members ${list(members)}`] : [])];
      plan.creates.push(
        action(
          'create',
          'group',
          g.name,
          changes,
          { method: 'POST', path: api('groups'), body: { name: g.name, privileges } },
          ...addMembers([]),
        ),
      );
      return;
    }
    const changes: string[] = [];
    const requests = [];
    if (g.privileges && !sameSet(g.privileges, c.privileges)) {
      changes.push(`privileges: ${list(c.privileges)} → ${list(g.privileges)}`);
      requests.push({ method: 'PATCH' as const, path: api('groups', g.name), body: { privileges: g.privileges } });
    }
    const adds = addMembers(c.members);
    if (adds.length > 0) changes.push(`add members ${list(members.filter((m) => !c.members.includes(m)))}`);
    requests.push(...adds);
    if (g.members && prune) {
      const gone = c.members.filter((m) => !g.members?.includes(m));
      if (gone.length > 0) changes.push(`remove members ${list(gone)}`);
      requests.push(...gone.map((m) => ({ method: 'DELETE' as const, path: api('groups', g.name, 'members', m) })));
    }
    if (requests.length > 0) plan.updates.push(action('update', 'group', g.name, changes, ...requests));
  });

  const currentGrants = new Map(current.grants.map((x) => [`${x.group} ${x.type} ${x.resource}`, x]));
  const desiredGrants = new Set<string>();
  desired.grants.forEach((x, i) => {
    const id = `${x.group} ${x.type} ${x.resource}`;
    desiredGrants.add(id);
    const name = `${x.group} on ${x.type} ${x.resource}`;
    let missing = false;
    if (!desiredGroups.has(x.group) && !currentGroups.has(x.group)) {
      plan.unknown.push(`grants[${i}].group: group "${x.group}" is neither in the file's groups nor on the node`);
      missing = true;
    }
    if (!resources.known(x.type, x.resource)) {
      plan.unknown.push(`grants[${i}].${x.type}: ${x.type} "${x.resource}" is neither in the file nor on the node`);
      missing = true;
    } else if (resources.deleted(x.type, x.resource)) {
      // Granting on what the same run deletes would leave nothing behind: say so instead.
      plan.unknown.push(
        `grants[${i}].${x.type}: ${x.type} "${x.resource}" is not in the file, so --prune deletes it (declare it)`,
      );
      missing = true;
    }
    const c = currentGrants.get(id);
    if (missing || (c && sameSet(c.rights, x.rights))) return;
    const put = {
      method: 'PUT' as const,
      path: api(RESOURCE_COLLECTIONS[x.type], x.resource, 'grants', x.group),
      body: { rights: x.rights },
    };
    const change = c ? `rights: ${list(c.rights)} → ${list(x.rights)}` : `rights ${list(x.rights)}`;
    plan.updates.push(action(c ? 'update' : 'create', 'grant', name, [change], put));
  });

  if (prune) {
    for (const x of current.grants) {
      // A grant goes with its group or its resource; deleting it first would only repeat that.
      if (desiredGrants.has(`${x.group} ${x.type} ${x.resource}`)) continue;
      if (!desiredGroups.has(x.group) || resources.deleted(x.type, x.resource)) continue;
      plan.deletes.push(
        action('delete', 'grant', `${x.group} on ${x.type} ${x.resource}`, [`rights ${list(x.rights)}`], {
          method: 'DELETE',
          path: api(RESOURCE_COLLECTIONS[x.type], x.resource, 'grants', x.group),
        }),
      );
    }
    for (const g of current.groups) {
      if (!desiredGroups.has(g.name)) {
        plan.deletes.push(
          action('delete', 'group', g.name, ['and its memberships and grants'], {
            method: 'DELETE',
            path: api('groups', g.name),
          }),
        );
      }
    }
  }
  return plan;
}
