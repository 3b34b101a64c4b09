/**
 * Request shapes the data plane refuses before routing or authentication, pure.
 *
 * The gateway re-frames every forwarded request itself (undici writes its own `Content-Length`
 * or chunked framing), so the only bytes an upstream can misread are a body it does not expect.
 * A model server that never reads the body of a `GET` parses that body as the next request on a
 * pooled connection: a request nobody authorized. So a body on a method that does not take one
 * is refused, and so are duplicates of the headers that decide routing or framing.
 */

/** What a refused shape is answered with (a registry code and a public message). */
export interface ShapeRefusal {
  readonly code: 'BODY_NOT_ALLOWED' | 'HEADER_DUPLICATED';
  readonly message: string;
}

/**
 * Methods whose body an upstream may ignore: RFC 9110 gives a body on them no meaning, and model
 * servers (TorchServe, BentoML, uvicorn apps) do not read one.
 */
export const BODILESS_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE', 'TRACE']);

const BODY_REFUSAL: ShapeRefusal = Object.freeze({
  code: 'BODY_NOT_ALLOWED',
  message: 'A request body is not allowed with this method',
});

/**
 * Refuses a body on a {@link BODILESS_METHODS} method (`Content-Length` above 0 or any
 * `Transfer-Encoding`) and a second `Host`, `Content-Length` or `Transfer-Encoding` header.
 * `Authorization` duplicates are the authentication layer's (401 `CREDENTIAL_AMBIGUOUS`).
 *
 * Reads `rawHeaders` because node keeps only the first `Host` in `req.headers`; it only counts,
 * lower-casing a name only when its length matches one of the three.
 *
 * @example
 * ```ts
 * requestShapeRefusal('GET', ['Host', 'a', 'Content-Length', '5']); // → BODY_NOT_ALLOWED
 * requestShapeRefusal('GET', ['Host', 'a', 'host', 'b']);            // → HEADER_DUPLICATED
 * requestShapeRefusal('POST', ['Host', 'a', 'Content-Length', '5']); // → undefined
 * ```
 */
export function requestShapeRefusal(
  method: string | undefined,
  rawHeaders: readonly string[],
): ShapeRefusal | undefined {
  let hosts = 0;
  let lengths = 0;
  let encodings = 0;
  let body = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === 'host') hosts++;
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') {
          lengths++;
          if (!ZERO_LENGTH.test(rawHeaders[i + 1] ?? '')) body = true;
        }
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') {
          encodings++;
          body = true;
        }
        break;
    }
  }
  if (hosts > 1) return duplicated('Host');
  if (lengths > 1) return duplicated('Content-Length');
  if (encodings > 1) return duplicated('Transfer-Encoding');
  if (body && method !== undefined && BODILESS_METHODS.has(method)) return BODY_REFUSAL;
  return undefined;
}

/** `0` (node's parser has already refused anything that is not digits). */
const ZERO_LENGTH = /^\s*0+\s*$/;

function duplicated(header: string): ShapeRefusal {
  return { code: 'HEADER_DUPLICATED', message: `More than one ${header} header was sent` };
}
