import type { FastifyInstance } from 'fastify';
import { actorOf, authorize } from '../../access/authorize.js';
import { canSee } from '../../access/permissions.js';
import { userIdOf } from '../../auth/principal.js';
import type { ControlContext } from '../../control/context.js';
import { createOwned, deleteWithGrants } from '../../control/grants.js';
import { createSecret, deleteSecret, listSecrets, updateSecret, validateSecretInput } from '../../control/secrets.js';
import { API_PREFIX } from '../prefix.js';
import { secretName, secretSchema } from '../schemas.js';

const nameParams = { type: 'object', required: ['name'], properties: { name: secretName } } as const;

const tags = ['secrets'];
const valueBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    value: { type: 'string', minLength: 1, maxLength: 4096 },
    generate: { type: 'boolean', description: 'Generate a value (returned once)' },
  },
} as const;
const secretResult = {
  type: 'object',
  properties: { secret: secretSchema, value: { type: 'string', description: 'Only when generated' } },
} as const;

/** Secrets (G3): values are stored sealed and never listed; a generated value is returned once. */
export async function secretRoutes(app: FastifyInstance, opts: { control: ControlContext }): Promise<void> {
  const ctx = opts.control;
  const base = `${API_PREFIX}/secrets`;

  app.get(
    base,
    {
      schema: {
        tags,
        summary: 'List secrets (names only)',
        response: { 200: { type: 'object', properties: { secrets: { type: 'array', items: secretSchema } } } },
      },
    },
    async (req) => {
      const actor = await actorOf(ctx, req.principal);
      return { secrets: (await listSecrets(ctx)).filter((x) => canSee(actor, 'secret', x.name)) };
    },
  );

  app.post<{ Body: { name: string; value?: string; generate?: boolean } }>(
    base,
    {
      schema: {
        tags,
        summary: 'Create a secret',
        body: { ...valueBody, required: ['name'], properties: { ...valueBody.properties, name: { type: 'string' } } },
        response: { 201: secretResult },
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
        summary: 'Replace a secret’s value',
        description: 'Deployments keep the value they snapshotted until they are redeployed.',
        params: nameParams,
        body: valueBody,
        response: { 200: secretResult },
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
    { schema: { tags, summary: 'Delete a secret', params: nameParams } },
    async (req, reply) => {
      await authorize(ctx, req.principal, { secret: req.params.name, right: 'admin' });
      await deleteWithGrants(ctx, 'secret', req.params.name, (tx) => deleteSecret(tx, req.params.name));
      return reply.code(204).send();
    },
  );
}
