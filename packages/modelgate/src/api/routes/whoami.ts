import type { FastifyInstance } from 'fastify';
import { API_PREFIX } from '../prefix.js';

const principalSchema = {
  type: 'object',
  required: ['kind', 'id'],
  properties: {
    kind: {
      type: 'string',
      enum: [
        'anonymous',
        'management_key',
        'inference_key',
        'token_api_key',
        'admin_key',
        'api_key',
        'api_token',
        'basic',
      ],
    },
    id: { type: 'string' },
  },
} as const;

/** `GET /api/v1/whoami`: names the caller (kind of credential and its id). */
export async function whoamiRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    `${API_PREFIX}/whoami`,
    {
      schema: {
        summary: 'Who is calling',
        description: 'The kind and id of the credential this request was authenticated with.',
        tags: ['identity'],
        response: { 200: principalSchema },
      },
    },
    async (req) => ({ kind: req.principal.kind, id: req.principal.id }),
  );
}
