import type { IncomingHttpHeaders } from 'node:http';

/**
 * What the data plane's decisions read of a request: its method, target and headers, and the
 * peer it came from. node's `IncomingMessage` is one; the forward-auth endpoints build one from
 * what a proxy in front says of the request it is asking about, so both are decided by the same
 * code.
 */
export interface RequestHead {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: IncomingHttpHeaders;
  /** Names and values in order, as received: what counts duplicated headers. */
  readonly rawHeaders: readonly string[];
  readonly socket: { readonly remoteAddress?: string | undefined };
}
