/**
 * One Server-Sent Event, as the WHATWG HTML standard's event stream interpretation defines it.
 *
 * @example
 * ```ts
 * for await (const event of dep.stream('/v1/chat/completions', body)) {
 *   if (event.data === '[DONE]') break;
 *   const chunk = JSON.parse(event.data);
 * }
 * ```
 */
export interface SseEvent {
  /** The `event:` field; `message` when the server named none. */
  readonly event: string;
  /** The `data:` lines joined with `\n` (one trailing newline removed, as browsers do). */
  readonly data: string;
  /** The last `id:` the stream set (it carries over to later events); empty when none. */
  readonly id: string;
  /** The `retry:` reconnection time in milliseconds, when this event set one. */
  readonly retry?: number;
}

/** Thrown by {@link SseParser} when one line or one event grows past its limit. */
export class SseLimitError extends Error {
  override readonly name = 'SseLimitError';
}

/** The default cap on one event's size (data and its pending line), in UTF-16 code units. */
export const DEFAULT_MAX_EVENT_SIZE = 8 * 1024 * 1024;

const BOM = '\uFEFF';

/**
 * An incremental event-stream parser: feed it text as it arrives, split anywhere (even between
 * the CR and LF of one line end), and it returns the events completed so far. Lines end with
 * CRLF, LF or CR; `:` lines are comments; `data:` lines of one event are joined with `\n`.
 *
 * Deliberate deviation from the standard: at {@link SseParser.end} an event whose blank line
 * never came is still delivered when it has data, because model servers that close right after
 * their last `data:` line are common and dropping the final chunk silently would be worse.
 *
 * @example
 * ```ts
 * const parser = new SseParser();
 * parser.push('data: hel');            // []
 * parser.push('lo\r\n\r\n: ping\n');   // [{ event: 'message', data: 'hello', id: '' }]
 * parser.end();                        // []
 * ```
 */
export class SseParser {
  private pending = '';
  private started = false;
  private data: string[] = [];
  private dataSize = 0;
  private eventType = '';
  private lastId = '';
  private retry: number | undefined;
  private readonly maxEventSize: number;

  constructor(options: { readonly maxEventSize?: number | undefined } = {}) {
    this.maxEventSize = options.maxEventSize ?? DEFAULT_MAX_EVENT_SIZE;
  }

  /** Feeds the next piece of decoded text; returns the events it completed. */
  push(text: string): SseEvent[] {
    let input = this.pending + text;
    if (!this.started && input.length > 0) {
      this.started = true;
      if (input.startsWith(BOM)) input = input.slice(1);
    }
    const events: SseEvent[] = [];
    let start = 0;
    // Each search resumes only once passed, so a chunk of many LF-only lines stays linear.
    let cr = input.indexOf('\r');
    let lf = input.indexOf('\n');
    for (;;) {
      if (cr !== -1 && cr < start) cr = input.indexOf('\r', start);
      if (lf !== -1 && lf < start) lf = input.indexOf('\n', start);
      if (cr === -1 && lf === -1) break;
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      // A CR as the last character may be the first half of a CRLF split across chunks: wait.
      if (end === cr && end === input.length - 1) break;
      this.line(input.slice(start, end), events);
      start = end === cr && input[end + 1] === '\n' ? end + 2 : end + 1;
    }
    this.pending = input.slice(start);
    if (this.pending.length + this.dataSize > this.maxEventSize) {
      throw new SseLimitError(`An event-stream event is larger than ${this.maxEventSize} characters`);
    }
    return events;
  }

  /** The stream ended: completes the last line and delivers a final event that has data. */
  end(): SseEvent[] {
    const events: SseEvent[] = [];
    const rest = this.pending.endsWith('\r') ? this.pending.slice(0, -1) : this.pending;
    this.pending = '';
    if (rest.length > 0) this.line(rest, events);
    this.dispatch(events);
    return events;
  }

  private line(line: string, events: SseEvent[]): void {
    if (line === '') {
      this.dispatch(events);
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        this.dataSize += value.length + 1;
        if (this.dataSize > this.maxEventSize) {
          throw new SseLimitError(`An event-stream event is larger than ${this.maxEventSize} characters`);
        }
        break;
      case 'event':
        this.eventType = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastId = value;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.retry = Number(value);
        break;
      default:
        // Unknown fields are ignored, as the standard says.
        break;
    }
  }

  private dispatch(events: SseEvent[]): void {
    if (this.data.length > 0) {
      events.push({
        event: this.eventType || 'message',
        data: this.data.join('\n'),
        id: this.lastId,
        ...(this.retry === undefined ? {} : { retry: this.retry }),
      });
    }
    this.data = [];
    this.dataSize = 0;
    this.eventType = '';
    this.retry = undefined;
  }
}

/**
 * Reads a response body as Server-Sent Events. Leaving the loop early (`break`, `return`, a
 * thrown error) cancels the body, which closes the connection so the server stops generating.
 *
 * @example
 * ```ts
 * const res = await fetch(url, { headers: { accept: 'text/event-stream' } });
 * for await (const event of readEventStream(res.body!)) console.log(event.data);
 * ```
 */
export async function* readEventStream(
  body: ReadableStream<Uint8Array>,
  options: {
    readonly maxEventSize?: number | undefined;
    /** Once aborted, no further event is yielded, even one already received. */
    readonly signal?: AbortSignal | undefined;
  } = {},
): AsyncGenerator<SseEvent, void, undefined> {
  const parser = new SseParser({ maxEventSize: options.maxEventSize });
  const { signal } = options;
  const deliver = function* (events: SseEvent[]) {
    for (const event of events) {
      signal?.throwIfAborted();
      yield event;
    }
  };
  const decoder = new TextDecoder('utf-8');
  const reader = body.getReader();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      yield* deliver(parser.push(decoder.decode(value, { stream: true })));
    }
    finished = true;
    yield* deliver(parser.push(decoder.decode()));
    yield* deliver(parser.end());
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
