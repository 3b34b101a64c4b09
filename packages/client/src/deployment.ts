import type { CallOptions } from './api-types.js';
import { ModelgateApiError } from './errors.js';
import { readEventStream, type SseEvent, SseLimitError } from './sse.js';
import { callOptions, type Transport } from './transport.js';

/** Options of {@link DeploymentClient.stream}. */
export interface StreamOptions extends CallOptions {
  /** HTTP method; default `POST` (or `GET` when there is no body). */
  readonly method?: 'GET' | 'POST';
  /** Largest accepted event, in characters (default 8 Mi): a longer one fails the stream. */
  readonly maxEventSize?: number;
}

/**
 * Inference calls to one deployment through the gateway (the data plane, `:8080` by default):
 * `https://gateway/<deployment>/<path>`. Get one with {@link Client.deployment}.
 *
 * @example
 * ```ts
 * const demo = client.deployment('demo');
 * const out = await demo.post<{ label: string }>('/predictions/sentiment', { text: 'I love it' });
 * for await (const event of demo.stream('/v1/chat/completions', { model: 'm', messages, stream: true })) {
 *   if (event.data === '[DONE]') break;
 *   process.stdout.write(JSON.parse(event.data).choices[0].delta.content ?? '');
 * }
 * ```
 */
export class DeploymentClient {
  /** The deployment's base URL, e.g. `http://127.0.0.1:8080/demo`. */
  readonly url: string;

  /** @internal Use {@link Client.deployment}. */
  constructor(
    /** The deployment's name. */
    readonly name: string,
    inferenceEndpoint: string,
    private readonly transport: Transport,
  ) {
    if (!/^[^/?#\\]+$/.test(name) || name === '.' || name === '..') {
      throw new TypeError('A deployment name is one path segment (no /, ?, #)');
    }
    this.url = `${inferenceEndpoint}/${encodeURIComponent(name)}`;
  }

  /**
   * `POST`s `json` to a path of the deployment and returns the parsed JSON answer (text when the
   * model answers something else, `undefined` when it answers nothing).
   *
   * @example
   * ```ts
   * const res = await client.deployment('sentiment').post<{ label: string }>('/predictions/sentiment', { text: 'great' });
   * ```
   */
  post<T = unknown>(path: string, json: unknown, options: CallOptions = {}): Promise<T> {
    return this.transport.sendForBody<T>({ ...callOptions(options), method: 'POST', url: this.urlOf(path), json });
  }

  /**
   * `GET`s a path of the deployment and returns the parsed JSON answer.
   *
   * @example
   * ```ts
   * const models = await client.deployment('demo').get<{ data: { id: string }[] }>('/v1/models');
   * ```
   */
  get<T = unknown>(path: string, options: CallOptions = {}): Promise<T> {
    return this.transport.sendForBody<T>({ ...callOptions(options), method: 'GET', url: this.urlOf(path) });
  }

  /**
   * Sends a request and yields the answer's Server-Sent Events as they arrive. Nothing is sent
   * until the loop starts; a non-2xx answer throws {@link ModelgateApiError} from the loop;
   * leaving the loop early or aborting the signal closes the connection.
   *
   * @example
   * ```ts
   * const controller = new AbortController();
   * const body = { model: 'modelgate-demo', messages: [{ role: 'user', content: 'hi' }], stream: true };
   * for await (const event of client.deployment('demo').stream('/v1/chat/completions', body, { signal: controller.signal })) {
   *   if (event.data === '[DONE]') break;
   *   console.log(JSON.parse(event.data).choices[0]?.delta?.content);
   * }
   * ```
   */
  async *stream(path: string, json?: unknown, options: StreamOptions = {}): AsyncGenerator<SseEvent, void, undefined> {
    const res = await this.transport.send({
      ...callOptions(options),
      method: options.method ?? (json === undefined ? 'GET' : 'POST'),
      url: this.urlOf(path),
      json,
      accept: 'text/event-stream',
    });
    const type = res.headers.get('content-type') ?? '';
    if (!/^text\/event-stream\b/i.test(type) || res.body === null) {
      await res.body?.cancel().catch(() => undefined);
      throw new ModelgateApiError({
        status: res.status,
        code: 'INVALID_RESPONSE',
        message: `Expected an event stream, the server answered ${type ? `"${type.slice(0, 100)}"` : 'no content type'}`,
        requestId: res.headers.get('x-request-id') ?? undefined,
      });
    }
    try {
      yield* readEventStream(res.body, { maxEventSize: options.maxEventSize, signal: options.signal });
    } catch (err) {
      if (!(err instanceof SseLimitError)) throw err;
      throw new ModelgateApiError({
        status: res.status,
        code: 'INVALID_RESPONSE',
        message: err.message,
        requestId: res.headers.get('x-request-id') ?? undefined,
      });
    }
  }

  /**
   * The URL of a path of this deployment. The path is appended to the deployment's URL as given
   * (with its query string), so it can never point at another host.
   */
  urlOf(path: string): string {
    if (!path.startsWith('/')) throw new TypeError('An inference path starts with "/"');
    return this.url + path;
  }
}
