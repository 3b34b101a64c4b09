import type { FastifyInstance } from 'fastify';
import { actorOf } from '../../access/authorize.js';
import { MANAGEMENT_PRINCIPAL_KINDS } from '../../access/management.js';
import type { ControlContext } from '../../operations/context.js';
import { groupsOf } from '../../operations/groups.js';
import { API_PREFIX } from '../prefix.js';
import { ref } from '../schemas.js';

const principalSchema = {
  $id: 'Principal',
  type: 'object',
  required: ['kind', 'id'],
  properties: {
    kind: { type: 'string', enum: MANAGEMENT_PRINCIPAL_KINDS },
    id: { type: 'string' },
    user: { type: 'string', description: 'The username, for a signed-in user' },
    token: { type: 'string', description: 'The API token id, when a user acts through an ops API token' },
    groups: { type: 'array', items: { type: 'string' } },
    privileges: {
      type: 'array',
      items: { type: 'string', enum: ['admin', 'create_service'] },
      description: 'Global privileges: keys hold them all',
    },
  },
} as const;

/** The caller's description (a component of the OpenAPI document). */
export const WHOAMI_SCHEMAS = [principalSchema];

/** `GET /api/v1/whoami`: names the caller (kind of credential and its id). */
export async function whoamiRoutes(app: FastifyInstance, opts: { control: ControlContext }): Promise<void> {
  app.get(
    `${API_PREFIX}/whoami`,
    {
      schema: {
        operationId: 'whoami',
        summary: 'Who is calling',
        description:
          'The kind and id of the credential this request was authenticated with; for a user, its name, groups and global privileges.',
        tags: ['identity'],
        response: { 200: ref('Principal') },
      },
    },
    async (req) => {
      const principal = req.principal;
      const actor = await actorOf(opts.control, principal);
      const privileges = [...actor.privileges].sort();
      if (principal.kind !== 'user') return { kind: principal.kind, id: principal.id, privileges };
      const { kind, id, name, token } = principal;
      const groups = (await groupsOf(opts.control, id)).map((g) => g.name);
      return { kind, id, user: name, groups, privileges, ...(token ? { token } : {}) };
    },
  );
}
