import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ModelgateError } from '../../../kernel/errors.js';
import type { NodeKeyService } from '../../../keys/node-key-service.js';
import { errors } from '../openapi.js';
import { ref } from '../schemas.js';

/** The token API's shared schema (a component of the OpenAPI document). */
export const TOKEN_SCHEMAS = [
  {
    $id: 'NodeKey',
    type: 'object',
    required: ['type', 'key', 'expiration time'],
    properties: {
      type: { type: 'string', enum: ['management', 'inference'] },
      key: { type: 'string', description: 'The new key; the old one stops working' },
      'expiration time': { type: 'string', description: 'As TorchServe writes it in key_file.json' },
    },
  },
];

/**
 * TorchServe's token API: `GET|POST /token?type=management|inference` with the node's API key
 * replaces that key, renews its expiry, rewrites `key_file.json`, and answers with the new key.
 */
export async function tokenRoutes(app: FastifyInstance, opts: { nodeKeys: NodeKeyService | undefined }): Promise<void> {
  const schema = {
    summary: 'Replace the management or inference key',
    description: "TorchServe's token API. Authenticate with the `API` key from key_file.json.",
    tags: ['node keys'],
    security: [{ bearer: [] }],
    // No enum here: a bad `type` gets its own stable code from the handler, not a schema error.
    querystring: {
      type: 'object',
      properties: { type: { description: '`management` or `inference`' } },
    },
    response: {
      200: ref('NodeKey'),
      // 400 TOKEN_TYPE_INVALID; 404 when token authorization is disabled (no node keys).
      ...errors(400, 404),
    },
  };
  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const type = (req.query as Record<string, unknown>).type;
    if (type !== 'management' && type !== 'inference') throw new ModelgateError('TOKEN_TYPE_INVALID');
    if (!opts.nodeKeys) {
      throw new ModelgateError('ROUTE_NOT_FOUND', 'Token authorization is disabled: there are no node keys');
    }
    const { key, expiresAt } = await opts.nodeKeys.rotate(type);
    req.log.info({ type }, 'node key replaced');
    return reply.send({ type, key, 'expiration time': expiresAt });
  };
  // No automatic HEAD route: a HEAD must never rotate a key. A change on GET too (audited so).
  const options = { schema, config: { auth: 'token_api' as const, change: true }, exposeHeadRoute: false };
  app.get('/token', { ...options, schema: { ...schema, operationId: 'renewNodeKeyWithGet' } }, handler);
  app.post('/token', { ...options, schema: { ...schema, operationId: 'renewNodeKey' } }, handler);
}
