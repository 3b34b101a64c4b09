import type { ServerResponse } from 'node:http';
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

/** Marks a response whose request came through `checkContinue`: no `100` has been sent yet. */
export function awaitContinue(res: ServerResponse): void {
  awaiting.add(res);
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
