import type { FastifyInstance } from 'fastify';
import { ModelgateError } from '../../../kernel/errors.js';
import { canSeeDeployment, decide, mayCreateDeployment } from '../../../kernel/permissions.js';
import { actorOf, authorizeDeployment } from '../../access/authorize.js';
import { authorizeDeploymentWrite } from '../../access/deployment-requests.js';
import { createApiKeys } from '../../operations/api-keys.js';
import type { ControlContext } from '../../operations/context.js';
import {
  type CreateDeploymentInput,
  createDeployment,
  deleteDeployment,
  getDeployment,
  listDeployments,
  redeploy,
  setEnabled,
  type UpdateDeploymentInput,
  updateDeployment,
} from '../../operations/deployments.js';
import { transact } from '../../operations/transaction.js';
import { errors, noContent } from '../openapi.js';
import { type PageQuery, pageOf, pageQuery } from '../paging.js';
import { API_PREFIX } from '../prefix.js';
import { namesParams, ref } from '../schemas.js';

const nameParams = namesParams('name');
const deployment = ref('Deployment');

const tags = ['deployments'];

/** Deployments: create (creating what is missing), read, update, redeploy, enable/disable, delete. */
export async function deploymentRoutes(app: FastifyInstance, opts: { control: ControlContext }): Promise<void> {
  const ctx = opts.control;
  const base = `${API_PREFIX}/deployments`;

  app.get<{ Querystring: PageQuery }>(
    base,
    {
      schema: {
        tags,
        operationId: 'listDeployments',
        summary: 'List deployments',
        description: 'The deployments the caller may see, by name, a page at a time.',
        querystring: pageQuery,
        response: { 200: ref('DeploymentList') },
      },
    },
    async (req) => {
      const actor = await actorOf(ctx, req.principal);
      const visible = (await listDeployments(ctx)).filter((d) => canSeeDeployment(actor, d));
      const page = pageOf('deployments', visible, (d) => d.name, req.query);
      // What the changing routes would decide, per row and for a create, so a client offers only that.
      const deployments = page.items.map((d) => ({
        ...d,
        caller_may_deploy: decide(actor, { deployment: d, right: 'deploy' }).allowed,
      }));
      return { deployments, next_cursor: page.next_cursor, caller_may_create: mayCreateDeployment(actor) };
    },
  );

  app.post<{ Body: CreateDeploymentInput & { api_keys?: number } }>(
    base,
    {
      schema: {
        tags,
        operationId: 'createDeployment',
        summary: 'Create a deployment',
        description:
          'Creates the infrastructure (default `default`), service (default: the name), version (default `1`) and Basic secret when missing (a missing secret only for keys and global admins; everyone else needs `use` on the secret the deployment reads, or gets the 404 of a free name). `api_keys: N` also creates N API keys for the deployment, returned once.',
        body: ref('CreateDeploymentRequest'),
        response: { 201: ref('CreateDeploymentResponse'), ...errors(404, 409) },
      },
    },
    async (req, reply) => {
      const { api_keys: keyCount, ...input } = req.body;
      await authorizeDeploymentWrite(ctx, req.principal, { ...input, creating: true });
      // One transaction: keys that cannot be made leave no deployment behind.
      const { result, keys } = await transact(ctx, async (tx) => ({
        result: await createDeployment(tx, input, req.principal),
        keys: keyCount ? await createApiKeys(tx, { deployment: input.name }, keyCount) : undefined,
      }));
      reply.code(201);
      return {
        deployment: result.deployment,
        created: result.created,
        ...(result.generatedSecret ? { generated_secret: result.generatedSecret } : {}),
        ...(keys ? { api_keys: keys } : {}),
      };
    },
  );

  app.get<{ Params: { name: string } }>(
    `${base}/:name`,
    {
      schema: {
        tags,
        operationId: 'getDeployment',
        summary: 'Show a deployment',
        params: nameParams,
        response: { 200: deployment },
      },
    },
    async (req) => {
      await authorizeDeployment(ctx, req.principal, req.params.name, 'read');
      const found = await getDeployment(ctx, req.params.name);
      // The same decision the changing routes make, answered so a client can leave out what it may not do.
      const mayDeploy = await authorizeDeployment(ctx, req.principal, req.params.name, 'deploy').then(
        () => true,
        (err: unknown) => {
          if (err instanceof ModelgateError && err.status === 403) return false;
          throw err;
        },
      );
      return { ...found, caller_may_deploy: mayDeploy };
    },
  );

  app.patch<{ Params: { name: string }; Body: UpdateDeploymentInput }>(
    `${base}/:name`,
    {
      schema: {
        tags,
        operationId: 'updateDeployment',
        summary: 'Change a deployment (a new revision)',
        description:
          'The auth settings named in `auth` change, the others keep their value (`oidc: null` removes the external issuer); `auth: null` returns to the version’s design-time settings.',
        params: nameParams,
        body: ref('UpdateDeploymentRequest'),
        response: { 200: deployment, ...errors(409) },
      },
    },
    async (req) => {
      await authorizeDeploymentWrite(ctx, req.principal, { ...req.body, name: req.params.name, creating: false });
      return updateDeployment(ctx, req.params.name, req.body, req.principal);
    },
  );

  app.delete<{ Params: { name: string } }>(
    `${base}/:name`,
    {
      schema: {
        tags,
        operationId: 'deleteDeployment',
        summary: 'Delete a deployment and its API keys',
        params: nameParams,
        response: { ...noContent, ...errors(409) },
      },
    },
    async (req, reply) => {
      await authorizeDeployment(ctx, req.principal, req.params.name, 'deploy');
      await deleteDeployment(ctx, req.params.name);
      return reply.code(204).send();
    },
  );

  app.post<{ Params: { name: string } }>(
    `${base}/:name/redeploy`,
    {
      schema: {
        tags,
        operationId: 'redeployDeployment',
        summary: 'Redeploy: a new revision that picks up the Basic secret’s current value',
        params: nameParams,
        response: { 200: deployment, ...errors(409) },
      },
    },
    async (req) => {
      await authorizeDeployment(ctx, req.principal, req.params.name, 'deploy');
      return redeploy(ctx, req.params.name, req.principal);
    },
  );

  for (const action of ['enable', 'disable'] as const) {
    app.post<{ Params: { name: string } }>(
      `${base}/:name/${action}`,
      {
        schema: {
          tags,
          operationId: action === 'enable' ? 'enableDeployment' : 'disableDeployment',
          summary: action === 'enable' ? 'Enable a deployment' : 'Disable a deployment (503 on the data plane)',
          params: nameParams,
          response: { 200: deployment, ...errors(409) },
        },
      },
      async (req) => {
        await authorizeDeployment(ctx, req.principal, req.params.name, 'deploy');
        return setEnabled(ctx, req.params.name, action === 'enable');
      },
    );
  }
}
