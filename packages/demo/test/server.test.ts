import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type DemoServer, startDemoServer, tokenizeReply } from '../src/index.js';

const TOKEN_DELAY_MS = 30;

let demo: DemoServer;

beforeAll(async () => {
  demo = await startDemoServer({ port: 0, tokenDelayMs: TOKEN_DELAY_MS });
});

afterAll(async () => {
  await demo?.close();
});

function postJson(path: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(`${demo.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });
}

interface SseEvent {
  readonly data: string;
  /** The order in which the bytes carrying this event were read (events of one read share it). */
  readonly read: number;
}

/**
 * Reads an SSE body incrementally, numbering the reads that carried each event. Stops early,
 * leaving the body open, when `onEvent` returns false.
 */
async function readSse(body: ReadableStream<Uint8Array>, onEvent?: (event: SseEvent) => boolean): Promise<SseEvent[]> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const events: SseEvent[] = [];
  let buffer = '';
  for (let read = 0; ; read++) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of block.split('\n')) {
        if (!line.startsWith('data: ')) continue;
        const event = { data: line.slice('data: '.length), read };
        events.push(event);
        if (onEvent && !onEvent(event)) return events;
      }
    }
  }
  expect(buffer).toBe('');
  return events;
}

const CHAT = {
  model: 'modelgate-demo',
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'The new release is really great and the docs are excellent' },
  ],
};

describe('demo server: TorchServe-like routes', () => {
  it('answers /ping with the TorchServe health shape', async () => {
    const res = await fetch(`${demo.url}/ping`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'Healthy' });
  });

  it('lists its model', async () => {
    const res = await fetch(`${demo.url}/models`);
    expect(await res.json()).toEqual({ models: [{ modelName: 'sentiment', modelUrl: 'sentiment.mar' }] });
  });

  it('classifies a JSON {"text"} body', async () => {
    const res = await postJson('/predictions/sentiment', { text: 'I absolutely love it' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as { label: string; score: number };
    expect(Object.keys(body).sort()).toEqual(['label', 'score']);
    expect(body.label).toBe('positive');
    expect(body.score).toBeGreaterThan(0.5);
    expect(body.score).toBeLessThanOrEqual(1);
  });

  it('classifies a text/plain body', async () => {
    const res = await fetch(`${demo.url}/predictions/sentiment`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body: 'This is not good at all',
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { label: string }).label).toBe('negative');
  });

  it('accepts the model version in the path', async () => {
    const ok = await postJson('/predictions/sentiment/1.0', { text: 'fine' });
    expect(ok.status).toBe(200);
    const missing = await postJson('/predictions/sentiment/9.9', { text: 'fine' });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { type: string }).type).toBe('ModelVersionNotFoundException');
  });

  it.each([
    ['bad JSON', '{"text": ', 'application/json'],
    ['JSON that is not an object', '"hello"', 'application/json'],
    ['missing text', '{"input": "hello"}', 'application/json'],
    ['non-string text', '{"text": 42}', 'application/json'],
    ['an empty text/plain body', '', 'text/plain'],
  ])('answers 400 BadRequest for %s', async (_name, body, type) => {
    const res = await fetch(`${demo.url}/predictions/sentiment`, {
      method: 'POST',
      headers: { 'content-type': type },
      body,
    });
    expect(res.status).toBe(400);
    const json = (await res.json()) as { code: number; type: string; message: string };
    expect(json).toMatchObject({ code: 400, type: 'BadRequest' });
    expect(json.message).toEqual(expect.any(String));
  });

  it('answers 400 for a body that is not UTF-8', async () => {
    const res = await fetch(`${demo.url}/predictions/sentiment`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: new Uint8Array([0xff, 0xfe, 0xfd]),
    });
    expect(res.status).toBe(400);
  });

  it('answers 404 ModelNotFoundException for an unknown model', async () => {
    const res = await postJson('/predictions/other', { text: 'hi' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      code: 404,
      type: 'ModelNotFoundException',
      message: 'Model not found: other',
    });
  });

  it('answers 413 for a body over 1 MiB with a content-length', async () => {
    const res = await postJson('/predictions/sentiment', { text: 'a'.repeat(2 * 1024 * 1024) });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { code: number }).code).toBe(413);
  });

  it('answers 413 for a chunked body that grows past 1 MiB, then keeps serving', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${demo.url}/predictions/sentiment`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      const chunk = Buffer.alloc(64 * 1024, 'a');
      for (let i = 0; i < 32; i++) req.write(chunk);
      req.end();
    });
    expect(status).toBe(413);
    expect((await fetch(`${demo.url}/ping`)).status).toBe(200);
  });

  it('answers 405 and 404 like TorchServe for wrong methods and paths', async () => {
    const get = await fetch(`${demo.url}/predictions/sentiment`);
    expect(get.status).toBe(405);
    expect(((await get.json()) as { type: string }).type).toBe('MethodNotAllowedException');
    const unknown = await fetch(`${demo.url}/nope`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { type: string }).type).toBe('ResourceNotFoundException');
  });
});

describe('demo server: OpenAI-compatible chat', () => {
  it('lists the demo model', async () => {
    const res = await fetch(`${demo.url}/v1/models`);
    expect(await res.json()).toEqual({
      object: 'list',
      data: [{ id: 'modelgate-demo', object: 'model', created: expect.any(Number), owned_by: 'modelgate' }],
    });
  });

  it('returns a chat.completion object', async () => {
    const res = await postJson('/v1/chat/completions', CHAT);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown> & {
      choices: { message: { content: string } }[];
      usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
    };
    expect(body).toMatchObject({
      id: expect.stringMatching(/^chatcmpl-/),
      object: 'chat.completion',
      created: expect.any(Number),
      model: 'modelgate-demo',
      choices: [{ index: 0, message: { role: 'assistant', content: expect.any(String) }, finish_reason: 'stop' }],
    });
    const content = body.choices[0]!.message.content;
    expect(content).toContain('positive');
    expect(body.usage.completion_tokens).toBe(tokenizeReply(content).length);
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
  });

  it('truncates at max_tokens with finish_reason "length"', async () => {
    const res = await postJson('/v1/chat/completions', { ...CHAT, max_tokens: 3 });
    const body = (await res.json()) as { choices: { message: { content: string }; finish_reason: string }[] };
    expect(tokenizeReply(body.choices[0]!.message.content)).toHaveLength(3);
    expect(body.choices[0]!.finish_reason).toBe('length');
  });

  it('streams chat.completion.chunk events as they are produced, ending with [DONE]', async () => {
    const full = (await (await postJson('/v1/chat/completions', CHAT)).json()) as {
      choices: { message: { content: string } }[];
    };
    const expected = full.choices[0]!.message.content;
    const tokens = tokenizeReply(expected).length;
    expect(tokens).toBeGreaterThan(8);

    const before = demo.streamStats();
    const res = await postJson('/v1/chat/completions', { ...CHAT, stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    // What the server says about this stream when the client holds its first event.
    let atFirstEvent: ReturnType<DemoServer['streamStats']> | undefined;
    const events = await readSse(res.body!, () => {
      atFirstEvent ??= demo.streamStats();
      return true;
    });

    expect(events.at(-1)!.data).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
    let content = '';
    let role: string | undefined;
    for (const chunk of chunks) {
      expect(chunk).toMatchObject({
        id: expect.stringMatching(/^chatcmpl-/),
        object: 'chat.completion.chunk',
        created: expect.any(Number),
        model: 'modelgate-demo',
        choices: [{ index: 0, delta: expect.any(Object) }],
      });
      role ??= chunk.choices[0].delta.role;
      content += chunk.choices[0].delta.content ?? '';
    }
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(role).toBe('assistant');
    expect(content).toBe(expected);
    expect(chunks.at(-1).choices[0].finish_reason).toBe('stop');
    expect(chunks.filter((c) => c.choices[0].delta.content)).toHaveLength(tokens);

    // The first event reached the client while the rest was still being generated (the stream
    // was still running then), and the events came in several reads, not one buffered body.
    expect(atFirstEvent).toMatchObject({ active: before.active + 1, completed: before.completed });
    expect(new Set(events.map((e) => e.read)).size).toBeGreaterThan(1);
  });

  it('adds a usage chunk when stream_options.include_usage is set', async () => {
    const res = await postJson('/v1/chat/completions', {
      ...CHAT,
      max_tokens: 2,
      stream: true,
      stream_options: { include_usage: true },
    });
    const events = await readSse(res.body!);
    const last = JSON.parse(events.at(-2)!.data);
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ completion_tokens: 2 });
  });

  it('stops generating when the client disconnects and keeps serving', async () => {
    const slow = await startDemoServer({ tokenDelayMs: 200 });
    try {
      const controller = new AbortController();
      const res = await fetch(`${slow.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...CHAT, stream: true }),
        signal: controller.signal,
      });
      let contentEvents = 0;
      await readSse(res.body!, (event) => {
        if (JSON.parse(event.data).choices[0]?.delta?.content) contentEvents++;
        return contentEvents < 1;
      }).catch(() => []);
      expect(slow.streamStats().active).toBe(1);
      controller.abort();
      // Counted as aborted, never as completed: the server stopped generating rather than
      // writing the rest of the reply to a closed socket.
      await vi.waitFor(() => expect(slow.streamStats()).toEqual({ active: 0, completed: 0, aborted: 1 }), {
        timeout: 5_000,
        interval: 10,
      });

      expect((await fetch(`${slow.url}/ping`)).status).toBe(200);
      const again = await fetch(`${slow.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(CHAT),
      });
      expect(again.status).toBe(200);
    } finally {
      await slow.close();
    }
  });

  it('ends running streams when the server closes', async () => {
    const slow = await startDemoServer({ tokenDelayMs: 1_000 });
    const res = await fetch(`${slow.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...CHAT, stream: true }),
    });
    const reading = readSse(res.body!).catch(() => 'cut');
    await vi.waitFor(() => expect(slow.streamStats().active).toBe(1));
    await slow.close();
    expect(slow.streamStats()).toMatchObject({ active: 0, aborted: 1 });
    await reading;
  });

  it.each([
    ['bad JSON', '{"model": '],
    ['a body that is not an object', '[]'],
    ['a missing model', { messages: [{ role: 'user', content: 'hi' }] }],
    ['missing messages', { model: 'modelgate-demo' }],
    ['empty messages', { model: 'modelgate-demo', messages: [] }],
    ['a message that is not an object', { model: 'modelgate-demo', messages: ['hi'] }],
    ['an unknown role', { model: 'modelgate-demo', messages: [{ role: 'robot', content: 'hi' }] }],
    ['bad content', { model: 'modelgate-demo', messages: [{ role: 'user', content: 7 }] }],
    ['a bad content part', { model: 'modelgate-demo', messages: [{ role: 'user', content: [{ type: 'text' }] }] }],
    ['a non-boolean stream', { ...CHAT, stream: 'yes' }],
    ['a bad max_tokens', { ...CHAT, max_tokens: 0 }],
  ])('answers 400 invalid_request_error for %s', async (_name, body) => {
    const res = await postJson('/v1/chat/completions', body);
    expect(res.status).toBe(400);
    const json = (await res.json()) as { error: { message: string; type: string } };
    expect(json.error.type).toBe('invalid_request_error');
    expect(json.error.message).toEqual(expect.any(String));
  });

  it('answers 413 for an oversized chat body', async () => {
    const res = await postJson('/v1/chat/completions', {
      ...CHAT,
      messages: [{ role: 'user', content: 'x'.repeat(1024 * 1024 + 1) }],
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
  });

  it('answers 405 and 404 in the OpenAI shape', async () => {
    const get = await fetch(`${demo.url}/v1/chat/completions`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    const unknown = await fetch(`${demo.url}/v1/embeddings`, { method: 'POST', body: '{}' });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('unknown_url');
  });
});

describe('demo server: echo route', () => {
  it('reports the raw path and lower-cased headers it received', async () => {
    const res = await fetch(`${demo.url}/echo/a/b%2Fc?x=1&y=two`, {
      headers: { 'X-Custom-Header': 'Value', Authorization: 'Bearer abc' },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { method: string; path: string; headers: Record<string, string> };
    expect(body.method).toBe('GET');
    expect(body.path).toBe('/echo/a/b%2Fc?x=1&y=two');
    expect(body.headers['x-custom-header']).toBe('Value');
    expect(body.headers.authorization).toBe('Bearer abc');
    expect(body.headers.host).toBe(new URL(demo.url).host);
    expect(Object.keys(body.headers).every((k) => k === k.toLowerCase())).toBe(true);
  });

  it('reports POST bodies by size and repeated headers as arrays', async () => {
    const body = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const req = httpRequest(`${demo.url}/echo/upload`, { method: 'POST' });
      req.setHeader('X-Dup', ['one', 'two']);
      req.setHeader('content-type', 'application/octet-stream');
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve(JSON.parse(text)));
      });
      req.on('error', reject);
      req.end(Buffer.alloc(3 * 1024 * 1024));
    });
    expect(body).toMatchObject({ method: 'POST', path: '/echo/upload', bodyBytes: 3 * 1024 * 1024 });
    expect((body.headers as Record<string, unknown>)['x-dup']).toEqual(['one', 'two']);
  });
});
