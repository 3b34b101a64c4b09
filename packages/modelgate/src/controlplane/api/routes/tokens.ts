import type { FastifyInstance } from 'fastify';
import { authorizeTokenChange, authorizeTokenRoll, tokenListScope } from '../../access/token-requests.js';
import {
  type ApiTokenSettings,
  type CreateTokenInput,
  createApiToken,
  deleteApiToken,
  getTokenRow,
  listApiTokens,
  rollApiToken,
  type TokenPosition,
} from '../../operations/api-tokens.js';
import type { ControlContext } from '../../operations/context.js';
import { decodeCursor, encodeCursor, invalidCursor } from '../cursor.js';
import { errors, noContent } from '../openapi.js';
import { pageLimit, pageQueryProperties } from '../paging.js';
import { API_PREFIX } from '../prefix.js';
import { ref } from '../schemas.js';

const tags = ['api tokens'];
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } as const;

interface ListQuery {
  user?: string;
  all?: 'true' | 'false';
  limit?: string;
  cursor?: string;
}

/** API tokens (BentoCloud B1–B3): a person's own credentials for the management API and deployments. */
export async function apiTokenRoutes(
  app: FastifyInstance,
  opts: { control: ControlContext; settings: ApiTokenSettings },
): Promise<void> {
  const ctx = opts.control;
  const base = `${API_PREFIX}/tokens`;

  app.post<{ Body: CreateTokenInput }>(
    base,
    {
      schema: {
        tags,
        operationId: 'createApiToken',
        summary: 'Create an API token for yourself (shown once, in this answer)',
        description:
          'Needs a signed-in user (a session, or an API token with ops access). At least one of `ops_access` ' +
          'and `endpoint_access`; `expires_at` defaults to `api_token_default_ttl_s` from now and may be at ' +
          'most `api_token_max_ttl_s` away.',
        body: ref('CreateApiTokenRequest'),
        response: { 201: ref('ApiToken'), ...errors(409) },
      },
    },
    async (req, reply) => {
      const made = await createApiToken(ctx, opts.settings, req.principal, req.body);
      reply.code(201);
      return made;
    },
  );

  app.get<{ Querystring: ListQuery }>(
    base,
    {
      schema: {
        tags,
        operationId: 'listApiTokens',
        summary: 'List API tokens (never the tokens themselves)',
        description:
          'Your own tokens, oldest first. Global admins pass `user=NAME` for one user’s or `all=true` for ' +
          'everyone’s (node and admin keys see everyone’s by default). Pass `next_cursor` back as `cursor` for ' +
          'the following page.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            user: { type: 'string', minLength: 1, maxLength: 63, description: 'A username (admins, or yourself)' },
            all: { type: 'string', enum: ['true', 'false'], description: 'Every user’s tokens (admins)' },
            ...pageQueryProperties,
          },
        },
        response: { 200: ref('ApiTokenList') },
      },
    },
    async (req) => {
      const limit = pageLimit(req.query.limit);
      const after = req.query.cursor === undefined ? undefined : decodeTokenCursor(req.query.cursor);
      const scope = await tokenListScope(ctx, req.principal, req.query);
      const page = await listApiTokens(ctx, scope, { limit, ...(after ? { after } : {}) });
      return { tokens: page.tokens, next_cursor: page.last ? encodeTokenCursor(page.last) : null };
    },
  );

  app.post<{ Params: { id: string }; Body: { grace_seconds?: number } | undefined }>(
    `${base}/:id/roll`,
    {
      schema: {
        tags,
        operationId: 'rollApiToken',
        summary: 'Roll an API token: a successor now, the old one refused after a grace period',
        description:
          'Your own tokens only. The successor has the same name, description and access, and a lifetime as ' +
          'long as the original’s, from now. The old token keeps working for `grace_seconds` (at most until ' +
          'its own expiry), then is refused; both are listed meanwhile (`state`: `active`, `retiring`). A ' +
          'token rolled already answers 409 `CREDENTIAL_ALREADY_ROLLED`.',
        params: idParams,
        body: ref('RollRequest'),
        response: { 201: ref('RolledApiToken'), ...errors(409) },
      },
    },
    async (req, reply) => {
      authorizeTokenRoll(req.principal, await getTokenRow(ctx, req.params.id));
      const rolled = await rollApiToken(ctx, opts.settings, req.params.id, req.body?.grace_seconds ?? 0);
      reply.code(201);
      return rolled;
    },
  );

  app.delete<{ Params: { id: string } }>(
    `${base}/:id`,
    {
      schema: {
        tags,
        operationId: 'deleteApiToken',
        summary: 'Delete an API token: refused from the next request on',
        description: 'Your own tokens; global admins delete anyone’s. Someone else’s token answers 404.',
        params: idParams,
        response: noContent,
      },
    },
    async (req, reply) => {
      await authorizeTokenChange(ctx, req.principal, await getTokenRow(ctx, req.params.id));
      await deleteApiToken(ctx, req.params.id);
      return reply.code(204).send();
    },
  );
}

/** The list name in the shared cursor (`api/cursor.ts`): a cursor of another list is refused. */
const TOKEN_LIST = 'tokens';

/** An opaque page cursor: where the previous page ended (creation time, then id). */
function encodeTokenCursor(position: TokenPosition): string {
  return encodeCursor({ list: TOKEN_LIST, after: `${position.created_at} ${position.id}`, order: 'asc' });
}

/** Decodes a cursor from {@link encodeTokenCursor}, or throws VALIDATION_FAILED naming `cursor`. */
function decodeTokenCursor(cursor: string): TokenPosition {
  const after = String(decodeCursor(TOKEN_LIST, cursor).after);
  const space = after.indexOf(' ');
  // Neither an ISO time nor an id holds a space.
  if (space <= 0 || space === after.length - 1) throw invalidCursor();
  return { created_at: after.slice(0, space), id: after.slice(space + 1) };
}
