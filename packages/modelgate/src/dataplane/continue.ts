import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';

/**
 * `Expect: 100-continue` on the data plane. Node answers `100 Continue` by itself unless the
 * server handles `checkContinue`; the gateway handles it, so the caller is asked for its body
 * only once the request was admitted (routing, authentication) and the upstream client starts
 * pulling the body, i.e. the upstream connection is open and the request head is on its way.
 * A refusal is a final answer without `100`, and node then closes the connection.
 */

/** Responses whose caller still waits for `100 Continue`. */
const awaiting = new WeakSet<ServerResponse>();

/**
 * The server's `checkContinue` listener: marks the response as still owing `100 Continue`, then
 * handles the request like any other.
 *
 * @example
 * ```ts
 * server.on('checkContinue', continueAfterAdmission(gateway.request));
 * ```
 */
export function continueAfterAdmission(
  request: (req: IncomingMessage, res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    awaiting.add(res);
    request(req, res);
  };
}

/**
 * Sends `100 Continue` when `body` (the stream the upstream request reads the caller's body
 * from) is first pulled, if the caller is waiting for one.
 */
export function continueWhenPulled(res: ServerResponse, body: Readable): void {
  if (!awaiting.has(res)) return;
  body.once('resume', () => {
    if (awaiting.delete(res) && !res.headersSent && !res.destroyed) res.writeContinue();
  });
}
