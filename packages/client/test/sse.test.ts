import { describe, expect, it } from 'vitest';
import { readEventStream, type SseEvent, SseLimitError, SseParser } from '../src/sse.js';

/** Parses a whole stream fed as the given pieces. */
function parse(pieces: readonly string[], options: { maxEventSize?: number } = {}): SseEvent[] {
  const parser = new SseParser(options);
  const events = pieces.flatMap((p) => parser.push(p));
  return [...events, ...parser.end()];
}

/** A body stream that delivers the given byte chunks. */
function bodyOf(chunks: readonly Uint8Array[]): ReadableStream<Uint8Array> & { readonly cancelled: boolean } {
  let i = 0;
  const state = { cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[i++];
      if (chunk === undefined) controller.close();
      else controller.enqueue(chunk);
    },
    cancel() {
      state.cancelled = true;
    },
  });
  // A getter (Object.assign would copy the value once).
  return Object.defineProperty(stream, 'cancelled', { get: () => state.cancelled }) as ReadableStream<Uint8Array> & {
    readonly cancelled: boolean;
  };
}

async function collect(iterable: AsyncIterable<SseEvent>): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  for await (const e of iterable) out.push(e);
  return out;
}

const OPENAI_LIKE =
  ': keep-alive\n\n' +
  'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n' +
  'event: update\r\nid: 7\r\ndata: line one\r\ndata: line two\r\n\r\n' +
  'data: {"choices":[{"delta":{"content":"lo"}}]}\r\r' +
  'retry: 1500\ndata: [DONE]\n\n';

const OPENAI_LIKE_EVENTS: SseEvent[] = [
  { event: 'message', data: '{"choices":[{"delta":{"content":"Hel"}}]}', id: '' },
  { event: 'update', data: 'line one\nline two', id: '7' },
  { event: 'message', data: '{"choices":[{"delta":{"content":"lo"}}]}', id: '7' },
  { event: 'message', data: '[DONE]', id: '7', retry: 1500 },
];

describe('SseParser', () => {
  it('reads LF, CRLF and CR line ends, comments, event names, ids and multi-line data', () => {
    expect(parse([OPENAI_LIKE])).toEqual(OPENAI_LIKE_EVENTS);
  });

  it('gives the same events however the stream is split, even between CR and LF', () => {
    for (let i = 0; i <= OPENAI_LIKE.length; i++) {
      for (const j of [i, i + 1, i + 7]) {
        const pieces = [OPENAI_LIKE.slice(0, i), OPENAI_LIKE.slice(i, j), OPENAI_LIKE.slice(j)];
        expect(parse(pieces), `split at ${i}/${j}`).toEqual(OPENAI_LIKE_EVENTS);
      }
    }
    expect(parse([...OPENAI_LIKE])).toEqual(OPENAI_LIKE_EVENTS);
  });

  it('does not end a line at a CR that closes a chunk until it knows whether LF follows', () => {
    const parser = new SseParser();
    expect(parser.push('data: a\r')).toEqual([]);
    // The LF completes the CRLF of "data: a"; the next CR LF is the blank line.
    expect(parser.push('\n\r')).toEqual([]);
    expect(parser.push('\ndata: b\n\n')).toEqual([
      { event: 'message', data: 'a', id: '' },
      { event: 'message', data: 'b', id: '' },
    ]);
  });

  it('delivers a last event that has no trailing newline or blank line', () => {
    expect(parse(['data: last'])).toEqual([{ event: 'message', data: 'last', id: '' }]);
    expect(parse(['data: a\n\ndata: b\n'])).toEqual([
      { event: 'message', data: 'a', id: '' },
      { event: 'message', data: 'b', id: '' },
    ]);
    expect(parse(['data: c\r'])).toEqual([{ event: 'message', data: 'c', id: '' }]);
  });

  it('follows the standard on field edge cases', () => {
    const events = parse([
      '\uFEFFdata:no space\n\n', // a leading BOM is dropped; the space after the colon is optional
      'data:  two spaces\n\n', // only one space is removed
      'data\n\n', // a field without a colon has an empty value: one empty data line
      'data\ndata\n\n', // two empty data lines: a single newline
      'data: a:b: c\n\n', // only the first colon splits
      'event: ignored\n\n', // no data: nothing dispatched, the event name is reset
      'data: after\n\n',
      'id: x\0y\ndata: nul id ignored\n\n',
      'retry: 12x\ndata: bad retry ignored\n\n',
      'unknown: field\nDATA: case matters\ndata: kept\n\n',
      'id\ndata: id reset\n\n',
    ]);
    expect(events).toEqual([
      { event: 'message', data: 'no space', id: '' },
      { event: 'message', data: ' two spaces', id: '' },
      { event: 'message', data: '', id: '' },
      { event: 'message', data: '\n', id: '' },
      { event: 'message', data: 'a:b: c', id: '' },
      { event: 'message', data: 'after', id: '' },
      { event: 'message', data: 'nul id ignored', id: '' },
      { event: 'message', data: 'bad retry ignored', id: '' },
      { event: 'message', data: 'kept', id: '' },
      { event: 'message', data: 'id reset', id: '' },
    ]);
  });

  it('treats a stream of only comments and blank lines as no events', () => {
    expect(parse([': ping\n\n:\n\n\n\r\n\r'])).toEqual([]);
    expect(parse([''])).toEqual([]);
  });

  it('refuses an event or a line longer than the limit instead of buffering without end', () => {
    expect(() => parse(['data: ', 'x'.repeat(100)], { maxEventSize: 64 })).toThrow(SseLimitError);
    const manyLines = Array.from({ length: 20 }, () => 'data: 0123456789\n');
    expect(() => parse(manyLines, { maxEventSize: 64 })).toThrow(SseLimitError);
    // Under the limit, and the limit applies per event.
    expect(parse(['data: 0123456789\n\n'.repeat(20)], { maxEventSize: 64 })).toHaveLength(20);
  });
});

describe('readEventStream', () => {
  it('decodes UTF-8 split inside a character across chunks', async () => {
    const bytes = new TextEncoder().encode('data: héllo 😀 wörld\n\n');
    const chunks = [...bytes].map((b) => Uint8Array.of(b));
    expect(await collect(readEventStream(bodyOf(chunks)))).toEqual([
      { event: 'message', data: 'héllo 😀 wörld', id: '' },
    ]);
  });

  it('cancels the body when the consumer leaves the loop early', async () => {
    const encoder = new TextEncoder();
    const body = bodyOf([encoder.encode('data: 1\n\n'), encoder.encode('data: 2\n\n'), encoder.encode('data: 3\n\n')]);
    for await (const event of readEventStream(body)) {
      expect(event.data).toBe('1');
      break;
    }
    expect(body.cancelled).toBe(true);
  });

  it('yields nothing more once its signal fires, even events already received, and cancels the body', async () => {
    const encoder = new TextEncoder();
    const body = bodyOf([encoder.encode('data: 1\n\ndata: 2\n\n'), encoder.encode('data: 3\n\n')]);
    const controller = new AbortController();
    const seen: string[] = [];
    let error: unknown;
    try {
      for await (const event of readEventStream(body, { signal: controller.signal })) {
        seen.push(event.data);
        controller.abort();
      }
    } catch (err) {
      error = err;
    }
    expect(seen).toEqual(['1']);
    expect((error as Error).name).toBe('AbortError');
    expect(body.cancelled).toBe(true);
  });

  it('does not cancel a body it read to the end', async () => {
    const body = bodyOf([new TextEncoder().encode('data: 1')]);
    expect(await collect(readEventStream(body))).toEqual([{ event: 'message', data: '1', id: '' }]);
    expect(body.cancelled).toBe(false);
  });
});
