import type { FastifyInstance } from 'fastify';
import { ModelgateError } from '../../../kernel/errors.js';
import { type ApiTokenSettings, type CreateTokenInput, createApiToken } from '../../operations/api-tokens.js';
import type { ControlContext } from '../../operations/context.js';
import { PendingCliLogins } from '../../sessions/cli-login.js';
import { errors } from '../openapi.js';
import { API_PREFIX } from '../prefix.js';
import { ref } from '../schemas.js';

const CHALLENGE = { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$', description: 'RFC 7636 S256 code challenge' };

/** The browser login's shared schemas (components of the OpenAPI document). */
export const CLI_LOGIN_SCHEMAS = [
  {
    $id: 'CliLoginApproval',
    type: 'object',
    required: ['code_challenge', 'token'],
    additionalProperties: false,
    properties: { code_challenge: CHALLENGE, token: ref('CreateApiTokenRequest') },
  },
  {
    $id: 'CliLoginCode',
    type: 'object',
    required: ['code', 'expires_in'],
    properties: {
      code: {
        type: 'string',
        description: 'One-time code for the CLI’s loopback redirect; useless without the verifier',
      },
      expires_in: { type: 'integer', description: 'Seconds the code stays good' },
    },
  },
  {
    $id: 'CliLoginExchange',
    type: 'object',
    required: ['code', 'code_verifier'],
    additionalProperties: false,
    properties: {
      code: { type: 'string', maxLength: 128 },
      code_verifier: { type: 'string', minLength: 43, maxLength: 128 },
    },
  },
];

/**
 * `modelgate login --web` (RFC 8252, loopback redirect with state and PKCE): the signed-in user
 * approves a token's name and access in the console, which gets a one-time code bound to the
 * CLI's PKCE challenge; the CLI exchanges the code with its verifier and receives the API token,
 * made then as that user. The token never passes through the browser.
 */
export async function cliLoginRoutes(
  app: FastifyInstance,
  opts: { control: ControlContext; settings: ApiTokenSettings; pending?: PendingCliLogins<CreateTokenInput> },
): Promise<void> {
  const pending = opts.pending ?? new PendingCliLogins<CreateTokenInput>();
  const base = `${API_PREFIX}/cli-login`;
  const tags = ['tokens'];

  app.post<{ Body: { code_challenge: string; token: CreateTokenInput } }>(
    `${base}/approve`,
    {
      schema: {
        tags,
        operationId: 'approveCliLogin',
        summary: 'Approve a browser login of the CLI: a one-time code for its loopback redirect',
        description:
          'Needs a signed-in user. The token is made when the CLI exchanges the code (`POST /api/v1/cli-login/token`), within 2 minutes.',
        body: ref('CliLoginApproval'),
        response: { 201: ref('CliLoginCode') },
      },
    },
    async (req, reply) => {
      const user = req.principal;
      if (user.kind !== 'user') {
        throw new ModelgateError('USER_REQUIRED', 'API tokens belong to a user: sign in to approve a CLI login');
      }
      req.auditTarget = typeof req.body.token.name === 'string' ? req.body.token.name : null;
      const code = pending.approve({ user, token: req.body.token, challenge: req.body.code_challenge });
      reply.code(201);
      return { code, expires_in: 120 };
    },
  );

  app.post<{ Body: { code: string; code_verifier: string } }>(
    `${base}/token`,
    {
      // Public (the CLI has no credential yet: the code and verifier are the proof), yet audited.
      config: { auth: 'public', change: true },
      schema: {
        tags,
        operationId: 'exchangeCliLogin',
        summary: 'The CLI exchanges its code and PKCE verifier for the approved API token (shown once)',
        security: [],
        body: ref('CliLoginExchange'),
        response: { 201: ref('ApiToken'), ...errors(400) },
      },
    },
    async (req, reply) => {
      const approved = pending.exchange(req.body.code, req.body.code_verifier);
      if (approved === undefined) throw new ModelgateError('CLI_LOGIN_REFUSED');
      req.auditActor = approved.user;
      req.auditTarget = typeof approved.token.name === 'string' ? approved.token.name : null;
      try {
        const made = await createApiToken(opts.control, opts.settings, approved.user, approved.token);
        reply.code(201);
        return made;
      } catch (err) {
        // Not the CLI's fault (the store, its audit record): its code stays good for a retry.
        pending.restore(req.body.code, approved);
        throw err;
      }
    },
  );
}
