import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';

type SerializerFactory = ReturnType<typeof SerializerSelector>;

/**
 * Fastify's default response-serializer factory, with one compiled serializer per distinct schema
 * instead of one per route, status and content type. `documentErrors` gives every route the same
 * error envelope for up to eight statuses, so the default compiled `{ $ref: 'Error#' }` some 500
 * times at start (about half a second of CPU and tens of MB of heap that stayed committed); a
 * fast-json-stringify serializer is a pure function of its schema and the shared schemas, so one
 * per schema text serializes exactly the same bytes.
 *
 * A compiler is built per set of shared schemas (a plugin context that adds its own gets a new
 * one), so the memo never mixes serializers built against different `$ref` targets.
 *
 * @example
 * Fastify({ schemaController: { compilersFactory: { buildSerializer: sharedSerializers() } } });
 */
export function sharedSerializers(): SerializerFactory {
  const build = SerializerSelector();
  return (externalSchemas, options) => {
    const compile = build(externalSchemas, options);
    const compiled = new Map<string, ReturnType<typeof compile>>();
    return (route) => {
      const key = JSON.stringify(route.schema);
      let serializer = compiled.get(key);
      if (serializer === undefined) {
        serializer = compile(route);
        compiled.set(key, serializer);
      }
      return serializer;
    };
  };
}
