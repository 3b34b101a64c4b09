import type { IncomingMessage } from 'node:http';
import type { PassThrough } from 'node:stream';

/**
 * Called when the upstream's response head arrives. If the upstream client has not yet read the
 * whole request body, the upstream answered before it had the body and may never read the rest,
 * which it would then parse as the next request. undici destroys a connection whose response
 * completes while the request body is still being written; so the body is kept from ending
 * (every byte still flows, only the end is withheld) and the connection is closed, never reused.
 *
 * Only for a fixed-length (`Content-Length`) upload, where the end puts no byte on the wire. The
 * terminating chunk of a chunked upload is left alone: withholding it would stall an upstream
 * that streams its answer while it reads. undici's own rule still covers that case when the
 * response completes before the upload does.
 */
export function closeAfterEarlyAnswer(req: IncomingMessage, body: PassThrough, fixedLength: boolean): void {
  if (!fixedLength || body.writableEnded || body.destroyed) return;
  req.unpipe(body);
  req.pipe(body, { end: false });
}
