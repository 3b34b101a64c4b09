import type { FastifyInstance } from 'fastify';
import { authorize } from '../../access/authorize.js';
import { type ResourceType, RIGHTS_BY_TYPE, resourceNeed } from '../../access/permissions.js';
import type { ControlContext } from '../../control/context.js';
import { listGrants, ownerOf, removeGrant, setGrant } from '../../control/grants.js';
import { API_PREFIX } from '../prefix.js';
import { grantSchema, resourceName, secretName } from '../schemas.js';

const PATHS: readonly (readonly [string, ResourceType])[] = [
  ['infrastructures', 'infrastructure'],
  ['services', 'service'],
  ['secrets', 'secret'],
];

/**
 * Grants of rights to groups on infrastructures (view, deploy, admin), services (read, write,
 * deploy, admin) and secrets (use, admin). Managing them needs `admin` on the resource.
 */
export async function grantRoutes(app: FastifyInstance, opts: { control: ControlContext }): Promise<void> {
  const ctx = opts.control;
  for (const [path, type] of PATHS) {
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

    app.get<{ Params: { name: string } }>(
      base,
      {
        schema: {
          tags,
          summary: `Who holds rights on the ${type}`,
          params,
          response: {
            200: {
              type: 'object',
              properties: { owner: { type: ['string', 'null'] }, grants: { type: 'array', items: grantSchema } },
            },
          },
        },
      },
      async (req) => {
        // Anyone who can see the resource can see who else can (Dataiku shows permissions to readers).
        await authorize(ctx, req.principal, need(req.params.name, 'any'));
        const grants = await listGrants(ctx, type, req.params.name);
        const owner = type === 'infrastructure' ? null : await ownerOf(ctx, type, req.params.name);
        return { owner, grants };
      },
    );

    app.put<{ Params: { name: string; group: string }; Body: { rights: string[] } }>(
      `${base}/:group`,
      {
        schema: {
          tags,
          summary: `Grant a group rights on the ${type} (replaces its rights)`,
          params: groupParams,
          body: {
            type: 'object',
            required: ['rights'],
            additionalProperties: false,
            properties: {
              rights: { type: 'array', minItems: 1, items: { type: 'string', enum: RIGHTS_BY_TYPE[type] } },
            },
          },
          response: { 200: grantSchema },
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
          summary: `Take a group's rights on the ${type} away (in force on the next request)`,
          params: groupParams,
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
