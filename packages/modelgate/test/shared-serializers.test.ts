import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { sharedSerializers } from '../src/controlplane/api/shared-serializers.js';

describe('sharedSerializers', () => {
  /** Two routes with the same error schema and different 200 schemas, behind the shared compiler. */
  async function build() {
    const app = Fastify({
      schemaController: {
        compilersFactory: {
          buildSerializer: sharedSerializers(),
        },
      },
    });
    app.addSchema({ $id: 'Err', type: 'object', properties: { code: { type: 'string' } } });
    const error = { $ref: 'Err#' };
    app.get(
      '/a',
      { schema: { response: { 200: { type: 'object', properties: { a: { type: 'number' } } }, 404: error } } },
      async (req, reply) =>
        (req.query as { miss?: string }).miss ? reply.code(404).send({ code: 'A', x: 1 }) : { a: 1, b: 2 },
    );
    app.get(
      '/b',
      { schema: { response: { 200: { type: 'object', properties: { b: { type: 'number' } } }, 404: error } } },
      async (req, reply) =>
        (req.query as { miss?: string }).miss ? reply.code(404).send({ code: 'B', x: 1 }) : { a: 1, b: 2 },
    );
    await app.ready();
    return app;
  }

  it('serializes each route by its own schema when routes share one', async () => {
    const server = await build();
    expect((await server.inject('/a')).json()).toEqual({ a: 1 });
    expect((await server.inject('/b')).json()).toEqual({ b: 2 });
    // The shared error schema drops what it does not declare, on both routes.
    expect((await server.inject('/a?miss=1')).json()).toEqual({ code: 'A' });
    expect((await server.inject('/b?miss=1')).json()).toEqual({ code: 'B' });
    await server.close();
  });

  it('hands back one serializer for one schema text', () => {
    const compile = sharedSerializers()({ Err: { $id: 'Err', type: 'object' } }, {});
    const error = (url: string) => ({ method: 'GET', url, httpStatus: '404', schema: { $ref: 'Err#' } });
    const ok = {
      method: 'GET',
      url: '/a',
      httpStatus: '200',
      schema: { type: 'object', properties: { a: { type: 'number' } } },
    };
    expect(compile(error('/a'))).toBe(compile(error('/b')));
    expect(compile(ok)).not.toBe(compile(error('/a')));
  });
});
