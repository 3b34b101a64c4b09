import type { CallOptions } from './api-types.js';
import { errorFromResponse, ModelgateApiError } from './errors.js';

/** The `fetch` the SDK calls: the global one, or one given in the options (tests, proxies). */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** What one HTTP call needs. */
export interface SendInit extends CallOptions {
  readonly method: string;
  readonly url: string;
  /** Sent as JSON when not undefined. */
  readonly json?: unknown;
  readonly accept?: string;
}

/**
 * Sends requests with one credential to one origin and turns non-2xx answers into
 * {@link ModelgateApiError}s. The credential lives only in the `Authorization` header: never in
 * a URL, never in an error. Redirects are not followed (a 3xx is an error), so the credential
 * never goes where a server points. {@link Client} is built on it; it is exported for clients
 * that build their own paths, such as the modelgate CLI.
 *
 * @example
 * ```ts
 * const transport = new Transport(fetch, process.env.MODELGATE_API_TOKEN);
 * const me = await transport.sendForBody({ method: 'GET', url: 'http://127.0.0.1:8081/api/v1/whoami' });
 * ```
 */
export class Transport {
  constructor(
    private readonly fetchImpl: FetchLike,
    private readonly token: string | undefined,
  ) {}

  /** Sends the request; resolves with the 2xx response, rejects with a typed error otherwise. */
  async send(init: SendInit): Promise<Response> {
    const headers: Record<string, string> = { ...init.headers, accept: init.accept ?? 'application/json' };
    for (const name of Object.keys(headers)) if (name.toLowerCase() === 'authorization') delete headers[name];
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    if (init.json !== undefined) headers['content-type'] = 'application/json';
    const res = await this.fetchImpl(init.url, {
      method: init.method,
      headers,
      body: init.json === undefined ? undefined : JSON.stringify(init.json),
      signal: init.signal ?? null,
      // The credential must not follow a redirect to wherever a server points.
      redirect: 'manual',
    });
    if (res.status >= 200 && res.status < 300) return res;
    const text = await res.text().catch(() => '');
    throw errorFromResponse(res.status, res.headers.get('x-request-id'), text, this.token);
  }

  /** Sends the request and reads the answer: JSON when it says so, `undefined` when empty, else text. */
  async sendForBody<T>(init: SendInit): Promise<T> {
    const res = await this.send(init);
    return (await readBody(res)) as T;
  }
}

/** Reads a 2xx body: parsed JSON for a JSON content type, `undefined` for none, text otherwise. */
export async function readBody(res: Response): Promise<unknown> {
  const text = await res.text();
  if (text === '') return undefined;
  const type = res.headers.get('content-type') ?? '';
  if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(type)) return text;
  try {
    return JSON.parse(text);
  } catch {
    throw new ModelgateApiError({
      status: res.status,
      code: 'INVALID_RESPONSE',
      message: `The server answered HTTP ${res.status} with a body that is not valid JSON`,
      requestId: res.headers.get('x-request-id') ?? undefined,
    });
  }
}

/**
 * The call options as plain data. Spreading the caller's object would lose a `signal` that is a
 * getter (an `AbortController` passed as the options, say); reading the properties keeps it.
 */
export function callOptions(options: CallOptions | undefined): CallOptions {
  return { signal: options?.signal, headers: options?.headers };
}

/**
 * Checks a credential before it goes into a header: a character a header cannot carry would make
 * `fetch` throw an error that quotes the whole header value, credential included.
 */
export function checkToken(token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  if (token === '' || !/^[\x21-\x7e]+$/.test(token)) {
    throw new TypeError('The token is empty or has characters a token cannot have (spaces, line breaks, non-ASCII)');
  }
  return token;
}

/** Checks an `http(s)` base URL and returns it without a trailing slash. */
export function checkEndpoint(endpoint: string, what: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new TypeError(`The ${what} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`The ${what} must be an http:// or https:// URL`);
  }
  // Credentials in a URL end up in logs and error messages: the token option is the one place.
  if (url.username || url.password) throw new TypeError(`The ${what} must not carry a username or password`);
  if (url.search || url.hash) throw new TypeError(`The ${what} must not have a query or fragment`);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}
