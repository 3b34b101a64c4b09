import type { FastifyInstance } from 'fastify';
import { authorizeKeyOwner, visibleKeys } from '../../access/api-key-requests.js';
import { authorizeApiKey } from '../../access/authorize.js';
import {
  createApiKeys,
  deleteApiKey,
  listApiKeys,
  parseOwner,
  revealApiKey,
  rollApiKey,
} from '../../operations/api-keys.js';
import type { ControlContext } from '../../operations/context.js';
import { errors, noContent } from '../openapi.js';
import { type PageQuery, pageOf, pageQueryProperties } from '../paging.js';
import { API_PREFIX } from '../prefix.js';
import { ref } from '../schemas.js';

const tags = ['api keys'];
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } as const;

/** API keys (D8) of a deployment (D7) or of a service version (D6). */
export async function apiKeyRoutes(app: FastifyInstance, opts: { control: ControlContext }): Promise<void> {
  const ctx = opts.control;
  const base = `${API_PREFIX}/api-keys`;

  app.get<{ Querystring: { deployment?: string; service?: string; version?: string } & PageQuery }>(
    base,
    {
      schema: {
        tags,
        operationId: 'listApiKeys',
        summary: 'List API keys (prefixes, never the keys)',
        description: 'Every key the caller may see, or those of one owner; oldest first, a page at a time.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            deployment: { type: 'string', description: 'Only the keys of this deployment' },
            service: { type: 'string', description: 'Only the keys of this service version (with `version`)' },
            version: { type: 'string' },
            ...pageQueryProperties,
          },
        },
        response: { 200: ref('ApiKeyList'), ...errors(404) },
      },
    },
    async (req) => {
      const { limit, cursor, ...q } = req.query;
      const owner = q.deployment || q.service || q.version ? parseOwner(q) : undefined;
      if (owner) await authorizeKeyOwner(ctx, req.principal, owner, 'read');
      const visible = await visibleKeys(ctx, req.principal, await listApiKeys(ctx, owner));
      const page = pageOf('api-keys', visible, (k) => `${k.created_at} ${k.id}`, { limit, cursor });
      return { api_keys: page.items, next_cursor: page.next_cursor };
    },
  );

  app.post<{
    Body: {
      deployment?: string;
      service?: string;
      version?: string;
      count?: number;
      description?: string;
      rate_limit?: unknown;
    };
  }>(
    base,
    {
      schema: {
        tags,
        operationId: 'createApiKeys',
        summary: 'Create API keys (returned once here; revealable later)',
        body: ref('CreateApiKeysRequest'),
        response: { 201: ref('CreatedApiKeys'), ...errors(404, 409) },
      },
    },
    async (req, reply) => {
      const owner = parseOwner(req.body);
      await authorizeKeyOwner(ctx, req.principal, owner, 'deploy');
      const { count, description, rate_limit } = req.body;
      const keys = await createApiKeys(ctx, owner, count ?? 1, description ?? '', rate_limit ?? null);
      reply.code(201);
      return { api_keys: keys };
    },
  );

  app.get<{ Params: { id: string } }>(
    `${base}/:id/reveal`,
    {
      schema: {
        tags,
        operationId: 'revealApiKey',
        summary: 'Show an API key again',
        params: idParams,
        response: { 200: ref('ApiKey') },
      },
    },
    async (req) => {
      await authorizeApiKey(ctx, req.principal, req.params.id, 'read');
      return revealApiKey(ctx, req.params.id);
    },
  );

  app.post<{ Params: { id: string }; Body: { grace_seconds?: number } | undefined }>(
    `${base}/:id/roll`,
    {
      schema: {
        tags,
        operationId: 'rollApiKey',
        summary: 'Roll an API key: a successor now, the old one refused after a grace period',
        description:
          'Needs the right to create keys for the owner (deploy). The successor has the same owner and ' +
          'description; the old key keeps working for `grace_seconds`, then is refused. Both are listed ' +
          'meanwhile (`state`: `active`, `retiring`). A key rolled already answers 409 `CREDENTIAL_ALREADY_ROLLED`.',
        params: idParams,
        body: ref('RollRequest'),
        response: { 201: ref('RolledApiKey'), ...errors(404, 409) },
      },
    },
    async (req, reply) => {
      await authorizeApiKey(ctx, req.principal, req.params.id, 'deploy');
      const rolled = await rollApiKey(ctx, req.params.id, req.body?.grace_seconds ?? 0);
      reply.code(201);
      return rolled;
    },
  );

  app.delete<{ Params: { id: string } }>(
    `${base}/:id`,
    {
      schema: {
        tags,
        operationId: 'deleteApiKey',
        summary: 'Delete an API key: refused from the next request on',
        params: idParams,
        response: noContent,
      },
    },
    async (req, reply) => {
      await authorizeApiKey(ctx, req.principal, req.params.id, 'deploy');
      await deleteApiKey(ctx, req.params.id);
      return reply.code(204).send();
    },
  );
}
