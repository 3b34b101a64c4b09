import type { FastifyInstance } from 'fastify';
import { actorOf, authorize } from '../../access/authorize.js';
import { canSee, resourceNeed } from '../../access/permissions.js';
import { userIdOf } from '../../auth/principal.js';
import { infrastructures, services, versions } from '../../control/catalog.js';
import type { ControlContext } from '../../control/context.js';
import { createOwned, deleteWithGrants } from '../../control/grants.js';
import { API_PREFIX } from '../prefix.js';
import { authSettingsSchema, namedSchema, namesParams, versionSchema } from '../schemas.js';

const nameParams = namesParams('name');

const createNamed = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: { type: 'string', maxLength: 63 }, description: { type: 'string', maxLength: 1024 } },
} as const;

/** Infrastructures, services and their immutable versions. */
export async function catalogRoutes(app: FastifyInstance, opts: { control: ControlContext }): Promise<void> {
  const ctx = opts.control;
  for (const [path, repo, tag, type] of [
    ['infrastructures', infrastructures, 'infrastructures', 'infrastructure'],
    ['services', services, 'services', 'service'],
  ] as const) {
    // Infrastructures: created by global admins, read with `view`, administered with `admin`.
    // Services: created with `create_service` (the creator owns it), read with `read`.
    const read = (name: string) => resourceNeed(type, name, 'any');
    const admin = (name: string) => resourceNeed(type, name, 'admin');
    const base = `${API_PREFIX}/${path}`;
    const list = { type: 'object', properties: { [path]: { type: 'array', items: namedSchema } } };
    app.get(base, { schema: { tags: [tag], summary: `List ${path}`, response: { 200: list } } }, async (req) => {
      // Filtered: a caller never sees a name it may not read.
      const actor = await actorOf(ctx, req.principal);
      return { [path]: (await repo.list(ctx)).filter((r) => canSee(actor, type, r.name)) };
    });
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
        await authorize(ctx, req.principal, { global: type === 'service' ? 'create_service' : 'admin' });
        const { name, description } = req.body;
        const made =
          type === 'service'
            ? await createOwned(ctx, type, name, userIdOf(req.principal), (tx) => repo.create(tx, name, description))
            : await repo.create(ctx, name, description);
        reply.code(201);
        return made;
      },
    );
    app.get<{ Params: { name: string } }>(
      `${base}/:name`,
      { schema: { tags: [tag], params: nameParams, response: { 200: namedSchema } } },
      async (req) => {
        await authorize(ctx, req.principal, read(req.params.name));
        return repo.get(ctx, req.params.name);
      },
    );
    app.patch<{ Params: { name: string }; Body: { description: string } }>(
      `${base}/:name`,
      {
        schema: {
          tags: [tag],
          summary: `Change a ${type}'s description (admin right)`,
          params: nameParams,
          body: {
            type: 'object',
            required: ['description'],
            additionalProperties: false,
            properties: { description: { type: 'string', maxLength: 1024 } },
          },
          response: { 200: namedSchema },
        },
      },
      async (req) => {
        await authorize(ctx, req.principal, admin(req.params.name));
        return repo.update(ctx, req.params.name, req.body.description);
      },
    );
    app.delete<{ Params: { name: string } }>(
      `${base}/:name`,
      { schema: { tags: [tag], summary: 'Delete (refused while a deployment uses it)', params: nameParams } },
      async (req, reply) => {
        await authorize(ctx, req.principal, admin(req.params.name));
        await deleteWithGrants(ctx, type, req.params.name, (tx) => repo.delete(tx, req.params.name));
        return reply.code(204).send();
      },
    );
  }

  const versionsBase = `${API_PREFIX}/services/:name/versions`;
  const versionParams = {
    type: 'object',
    required: ['name', 'version'],
    properties: { name: namesParams('name').properties.name, version: { type: 'string', maxLength: 64 } },
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
    async (req) => {
      await authorize(ctx, req.principal, { service: req.params.name, right: 'read' });
      return { versions: await versions.list(ctx, req.params.name) };
    },
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
      await authorize(ctx, req.principal, { service: req.params.name, right: 'write' });
      reply.code(201);
      return versions.create(ctx, req.params.name, req.body.version, req.body.auth);
    },
  );
  app.get<{ Params: { name: string; version: string } }>(
    `${versionsBase}/:version`,
    { schema: { tags: ['services'], params: versionParams, response: { 200: versionSchema } } },
    async (req) => {
      await authorize(ctx, req.principal, { service: req.params.name, right: 'read' });
      return versions.get(ctx, req.params.name, req.params.version);
    },
  );
  app.delete<{ Params: { name: string; version: string } }>(
    `${versionsBase}/:version`,
    { schema: { tags: ['services'], summary: 'Delete a version (refused while deployed)', params: versionParams } },
    async (req, reply) => {
      await authorize(ctx, req.principal, { service: req.params.name, right: 'write' });
      await versions.delete(ctx, req.params.name, req.params.version);
      return reply.code(204).send();
    },
  );
}
