import type { FastifyInstance } from 'fastify';
import { canSee, decide } from '../../../kernel/permissions.js';
import { userIdOf } from '../../../kernel/principal.js';
import { actorOf, authorize } from '../../access/authorize.js';
import type { ControlContext } from '../../operations/context.js';
import { createOwned, deleteWithGrants } from '../../operations/grants.js';
import {
  createSecret,
  deleteSecret,
  listSecrets,
  updateSecret,
  validateSecretInput,
} from '../../operations/secrets.js';
import { errors, noContent } from '../openapi.js';
import { type PageQuery, pageOf, pageQuery } from '../paging.js';
import { API_PREFIX } from '../prefix.js';
import { ref, secretName } from '../schemas.js';

const nameParams = { type: 'object', required: ['name'], properties: { name: secretName } } as const;

const tags = ['secrets'];

/** Secrets (G3): values are stored sealed and never listed; a generated value is returned once. */
export async function secretRoutes(app: FastifyInstance, opts: { control: ControlContext }): Promise<void> {
  const ctx = opts.control;
  const base = `${API_PREFIX}/secrets`;

  app.get<{ Querystring: PageQuery }>(
    base,
    {
      schema: {
        tags,
        operationId: 'listSecrets',
        summary: 'List secrets (names only)',
        querystring: pageQuery,
        response: { 200: ref('SecretList') },
      },
    },
    async (req) => {
      const actor = await actorOf(ctx, req.principal);
      const visible = (await listSecrets(ctx)).filter((x) => canSee(actor, 'secret', x.name));
      const page = pageOf('secrets', visible, (x) => x.name, req.query);
      // The decision of PUT and DELETE below, per secret, so a client offers only what they allow.
      const secrets = page.items.map((x) => ({
        ...x,
        caller_may_change: decide(actor, { secret: x.name, right: 'admin' }).allowed,
      }));
      return { secrets, next_cursor: page.next_cursor };
    },
  );

  app.post<{ Body: { name: string; value?: string; generate?: boolean } }>(
    base,
    {
      schema: {
        tags,
        operationId: 'createSecret',
        summary: 'Create a secret',
        body: ref('CreateSecretRequest'),
        response: { 201: ref('SecretResult'), ...errors(409) },
      },
    },
    async (req, reply) => {
      const { name, ...rest } = req.body;
      // Any signed-in user may create a secret; the creator owns it (use and admin).
      const input = validateSecretInput(name, rest);
      const made = await createOwned(ctx, 'secret', name, userIdOf(req.principal), (tx) =>
        createSecret(tx, name, input),
      );
      reply.code(201);
      return { secret: made.secret, ...(made.generatedValue ? { value: made.generatedValue } : {}) };
    },
  );

  app.put<{ Params: { name: string }; Body: { value?: string; generate?: boolean } }>(
    `${base}/:name`,
    {
      schema: {
        tags,
        operationId: 'replaceSecret',
        summary: 'Replace a secret’s value',
        description: 'Deployments keep the value they snapshotted until they are redeployed.',
        params: nameParams,
        body: ref('SecretValueRequest'),
        response: { 200: ref('SecretResult'), ...errors(409) },
      },
    },
    async (req) => {
      await authorize(ctx, req.principal, { secret: req.params.name, right: 'admin' });
      const made = await updateSecret(ctx, req.params.name, validateSecretInput(req.params.name, req.body));
      return { secret: made.secret, ...(made.generatedValue ? { value: made.generatedValue } : {}) };
    },
  );

  app.delete<{ Params: { name: string } }>(
    `${base}/:name`,
    {
      schema: {
        tags,
        operationId: 'deleteSecret',
        summary: 'Delete a secret',
        description: 'Refused (409 RESOURCE_IN_USE) while a service version or deployment refers to it.',
        params: nameParams,
        response: { ...noContent, ...errors(409) },
      },
    },
    async (req, reply) => {
      await authorize(ctx, req.principal, { secret: req.params.name, right: 'admin' });
      await deleteWithGrants(ctx, 'secret', req.params.name, (tx) => deleteSecret(tx, req.params.name));
      return reply.code(204).send();
    },
  );
}
