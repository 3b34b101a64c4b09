import type { FastifyInstance } from 'fastify';
import { infrastructures, services, versions } from '../../control/catalog.js';
import type { ControlContext } from '../../control/context.js';
import { API_PREFIX } from '../prefix.js';
import { authSettingsSchema, namedSchema, nameParams, versionSchema } from '../schemas.js';

const createNamed = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: { type: 'string', maxLength: 63 }, description: { type: 'string', maxLength: 1024 } },
} as const;

/** Infrastructures, services and their immutable versions. */
export async function catalogRoutes(app: FastifyInstance, opts: { control: ControlContext }): Promise<void> {
  const ctx = opts.control;
  for (const [path, repo, tag] of [
    ['infrastructures', infrastructures, 'infrastructures'],
    ['services', services, 'services'],
  ] as const) {
    const base = `${API_PREFIX}/${path}`;
    const list = { type: 'object', properties: { [path]: { type: 'array', items: namedSchema } } };
    app.get(base, { schema: { tags: [tag], summary: `List ${path}`, response: { 200: list } } }, async () => ({
      [path]: await repo.list(ctx),
    }));
    app.post<{ Body: { name: string; description?: string } }>(
      base,
      {
        schema: {
          tags: [tag],
          summary: `Create a ${tag.slice(0, -1)}`,
          body: createNamed,
          response: { 201: namedSchema },
        },
      },
      async (req, reply) => {
        reply.code(201);
        return repo.create(ctx, req.body.name, req.body.description);
      },
    );
    app.get<{ Params: { name: string } }>(
      `${base}/:name`,
      { schema: { tags: [tag], params: nameParams, response: { 200: namedSchema } } },
      async (req) => repo.get(ctx, req.params.name),
    );
    app.delete<{ Params: { name: string } }>(
      `${base}/:name`,
      { schema: { tags: [tag], summary: 'Delete (refused while a deployment uses it)', params: nameParams } },
      async (req, reply) => {
        await repo.delete(ctx, req.params.name);
        return reply.code(204).send();
      },
    );
  }

  const versionsBase = `${API_PREFIX}/services/:name/versions`;
  const versionParams = {
    type: 'object',
    required: ['name', 'version'],
    properties: { name: { type: 'string' }, version: { type: 'string' } },
  } as const;
  app.get<{ Params: { name: string } }>(
    versionsBase,
    {
      schema: {
        tags: ['services'],
        summary: 'List a service’s versions',
        params: nameParams,
        response: { 200: { type: 'object', properties: { versions: { type: 'array', items: versionSchema } } } },
      },
    },
    async (req) => ({ versions: await versions.list(ctx, req.params.name) }),
  );
  app.post<{ Params: { name: string }; Body: { version: string; auth?: unknown } }>(
    versionsBase,
    {
      schema: {
        tags: ['services'],
        summary: 'Create a version with its design-time auth settings (immutable)',
        params: nameParams,
        body: {
          type: 'object',
          required: ['version'],
          additionalProperties: false,
          properties: { version: { type: 'string', maxLength: 64 }, auth: authSettingsSchema },
        },
        response: { 201: versionSchema },
      },
    },
    async (req, reply) => {
      reply.code(201);
      return versions.create(ctx, req.params.name, req.body.version, req.body.auth);
    },
  );
  app.get<{ Params: { name: string; version: string } }>(
    `${versionsBase}/:version`,
    { schema: { tags: ['services'], params: versionParams, response: { 200: versionSchema } } },
    async (req) => versions.get(ctx, req.params.name, req.params.version),
  );
  app.delete<{ Params: { name: string; version: string } }>(
    `${versionsBase}/:version`,
    { schema: { tags: ['services'], summary: 'Delete a version (refused while deployed)', params: versionParams } },
    async (req, reply) => {
      await versions.delete(ctx, req.params.name, req.params.version);
      return reply.code(204).send();
    },
  );
}
