import type { FastifyInstance } from 'fastify';
import { decide, type ResourceType, RIGHTS_BY_TYPE, resourceNeed } from '../../../kernel/permissions.js';
import { authorize } from '../../access/authorize.js';
import type { ControlContext } from '../../operations/context.js';
import { listGrants, ownerOf, removeGrant, setGrant } from '../../operations/grants.js';
import { errors, noContent } from '../openapi.js';
import { type PageQuery, pageOf, pageQuery } from '../paging.js';
import { API_PREFIX } from '../prefix.js';
import { ref, resourceName, secretName } from '../schemas.js';

const PATHS: readonly (readonly [string, ResourceType, string])[] = [
  ['infrastructures', 'infrastructure', 'Infrastructure'],
  ['services', 'service', 'Service'],
  ['secrets', 'secret', 'Secret'],
];

/** The body of each resource type's grant route: the rights that type has. */
export const GRANT_SCHEMAS = PATHS.map(([, type, Type]) => ({
  $id: `${Type}GrantRequest`,
  type: 'object',
  required: ['rights'],
  additionalProperties: false,
  properties: {
    rights: { type: 'array', minItems: 1, items: { type: 'string', enum: RIGHTS_BY_TYPE[type] } },
  },
}));

/**
 * Grants of rights to groups on infrastructures (view, deploy, admin), services (read, write,
 * deploy, admin) and secrets (use, admin). Managing them needs `admin` on the resource.
 */
export async function grantRoutes(app: FastifyInstance, opts: { control: ControlContext }): Promise<void> {
  const ctx = opts.control;
  for (const [path, type, Type] of PATHS) {
    const base = `${API_PREFIX}/${path}/:name/grants`;
    const tags = [path];
    const name = type === 'secret' ? secretName : resourceName;
    const params = { type: 'object', required: ['name'], properties: { name } } as const;
    const groupParams = {
      type: 'object',
      required: ['name', 'group'],
      properties: { name, group: resourceName },
    } as const;
    const need = (resource: string, right: 'admin' | 'any') => resourceNeed(type, resource, right);

    app.get<{ Params: { name: string }; Querystring: PageQuery }>(
      base,
      {
        schema: {
          tags,
          operationId: `list${Type}Grants`,
          summary: `Who holds rights on the ${type}`,
          description: 'The owner, and the groups holding rights, by group name, a page at a time.',
          params,
          querystring: pageQuery,
          response: { 200: ref('GrantList') },
        },
      },
      async (req) => {
        // Anyone who can see the resource can see who else can (Dataiku shows permissions to readers).
        const actor = await authorize(ctx, req.principal, need(req.params.name, 'any'));
        const grants = pageOf(
          `${path}-grants`,
          await listGrants(ctx, type, req.params.name),
          (g) => g.group,
          req.query,
        );
        const owner = type === 'infrastructure' ? null : await ownerOf(ctx, type, req.params.name);
        // The decision of PUT and DELETE below, so a client offers editing only to who they allow.
        const mayChange = decide(actor, need(req.params.name, 'admin')).allowed;
        return { owner, grants: grants.items, next_cursor: grants.next_cursor, caller_may_change: mayChange };
      },
    );

    app.put<{ Params: { name: string; group: string }; Body: { rights: string[] } }>(
      `${base}/:group`,
      {
        schema: {
          tags,
          operationId: `set${Type}Grant`,
          summary: `Grant a group rights on the ${type} (replaces its rights)`,
          params: groupParams,
          body: ref(`${Type}GrantRequest`),
          response: { 200: ref('Grant'), ...errors(409) },
        },
      },
      async (req) => {
        await authorize(ctx, req.principal, need(req.params.name, 'admin'));
        return setGrant(ctx, type, req.params.name, req.params.group, req.body.rights);
      },
    );

    app.delete<{ Params: { name: string; group: string } }>(
      `${base}/:group`,
      {
        schema: {
          tags,
          operationId: `delete${Type}Grant`,
          summary: `Take a group's rights on the ${type} away (in force on the next request)`,
          params: groupParams,
          response: { ...noContent, ...errors(409) },
        },
      },
      async (req, reply) => {
        await authorize(ctx, req.principal, need(req.params.name, 'admin'));
        await removeGrant(ctx, type, req.params.name, req.params.group);
        return reply.code(204).send();
      },
    );
  }
}
