import type { FastifyInstance } from 'fastify';
import { canSee, resourceNeed } from '../../../kernel/permissions.js';
import { userIdOf } from '../../../kernel/principal.js';
import { actorOf, authorize } from '../../access/authorize.js';
import { infrastructures, services, versions } from '../../operations/catalog.js';
import type { ControlContext } from '../../operations/context.js';
import { createOwned, deleteWithGrants } from '../../operations/grants.js';
import { errors, noContent } from '../openapi.js';
import { type PageQuery, pageOf, pageQuery } from '../paging.js';
import { API_PREFIX } from '../prefix.js';
import { namesParams, ref } from '../schemas.js';

const nameParams = namesParams('name');

/** Infrastructures, services and their immutable versions. */
export async function catalogRoutes(app: FastifyInstance, opts: { control: ControlContext }): Promise<void> {
  const ctx = opts.control;
  for (const [path, repo, tag, type, Type] of [
    ['infrastructures', infrastructures, 'infrastructures', 'infrastructure', 'Infrastructure'],
    ['services', services, 'services', 'service', 'Service'],
  ] as const) {
    // Infrastructures: created by global admins, read with `view`, administered with `admin`.
    // Services: created with `create_service` (the creator owns it), read with `read`.
    const read = (name: string) => resourceNeed(type, name, 'any');
    const admin = (name: string) => resourceNeed(type, name, 'admin');
    const base = `${API_PREFIX}/${path}`;
    app.get<{ Querystring: PageQuery }>(
      base,
      {
        schema: {
          tags: [tag],
          operationId: `list${Type}s`,
          summary: `List ${path}`,
          querystring: pageQuery,
          response: { 200: ref(`${Type}List`) },
        },
      },
      async (req) => {
        // Filtered: a caller never sees a name it may not read.
        const actor = await actorOf(ctx, req.principal);
        const visible = (await repo.list(ctx)).filter((r) => canSee(actor, type, r.name));
        const page = pageOf(path, visible, (r) => r.name, req.query);
        return { [path]: page.items, next_cursor: page.next_cursor };
      },
    );
    app.post<{ Body: { name: string; description?: string } }>(
      base,
      {
        schema: {
          tags: [tag],
          operationId: `create${Type}`,
          summary: `Create a ${type}`,
          body: ref('CreateCatalogEntryRequest'),
          response: { 201: ref(Type), ...errors(409) },
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
      {
        schema: {
          tags: [tag],
          operationId: `get${Type}`,
          summary: `Show a ${type}`,
          params: nameParams,
          response: { 200: ref(Type) },
        },
      },
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
          operationId: `update${Type}`,
          summary: `Change a ${type}'s description (admin right)`,
          params: nameParams,
          body: ref('DescriptionRequest'),
          response: { 200: ref(Type), ...errors(409) },
        },
      },
      async (req) => {
        await authorize(ctx, req.principal, admin(req.params.name));
        return repo.update(ctx, req.params.name, req.body.description);
      },
    );
    app.delete<{ Params: { name: string } }>(
      `${base}/:name`,
      {
        schema: {
          tags: [tag],
          operationId: `delete${Type}`,
          summary: `Delete a ${type} (refused while a deployment uses it)`,
          params: nameParams,
          response: { ...noContent, ...errors(409) },
        },
      },
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
  app.get<{ Params: { name: string }; Querystring: PageQuery }>(
    versionsBase,
    {
      schema: {
        tags: ['services'],
        operationId: 'listServiceVersions',
        summary: 'List a service’s versions',
        params: nameParams,
        querystring: pageQuery,
        response: { 200: ref('VersionList') },
      },
    },
    async (req) => {
      await authorize(ctx, req.principal, { service: req.params.name, right: 'read' });
      const all = await versions.list(ctx, req.params.name);
      const page = pageOf('versions', all, (v) => `${v.created_at} ${v.id}`, req.query);
      return { versions: page.items, next_cursor: page.next_cursor };
    },
  );
  app.post<{ Params: { name: string }; Body: { version: string; auth?: unknown } }>(
    versionsBase,
    {
      schema: {
        tags: ['services'],
        operationId: 'createServiceVersion',
        summary: 'Create a version with its design-time auth settings (immutable)',
        params: nameParams,
        body: ref('CreateVersionRequest'),
        response: { 201: ref('Version'), ...errors(409) },
      },
    },
    async (req, reply) => {
      await authorize(ctx, req.principal, { service: req.params.name, right: 'write' });
      reply.code(201);
      return versions.create(ctx, req.params.name, req.body.version, req.body.auth, req.principal);
    },
  );
  app.get<{ Params: { name: string; version: string } }>(
    `${versionsBase}/:version`,
    {
      schema: {
        tags: ['services'],
        operationId: 'getServiceVersion',
        summary: 'Show a version of a service',
        params: versionParams,
        response: { 200: ref('Version') },
      },
    },
    async (req) => {
      await authorize(ctx, req.principal, { service: req.params.name, right: 'read' });
      return versions.get(ctx, req.params.name, req.params.version);
    },
  );
  app.delete<{ Params: { name: string; version: string } }>(
    `${versionsBase}/:version`,
    {
      schema: {
        tags: ['services'],
        operationId: 'deleteServiceVersion',
        summary: 'Delete a version (refused while deployed)',
        params: versionParams,
        response: { ...noContent, ...errors(409) },
      },
    },
    async (req, reply) => {
      await authorize(ctx, req.principal, { service: req.params.name, right: 'write' });
      await versions.delete(ctx, req.params.name, req.params.version);
      return reply.code(204).send();
    },
  );
}
