import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ChatContentPart, type ChatMessage, generateReply, messageText, tokenizeReply } from './chat.js';
import { decodeUtf8, readBody, sendJson } from './http.js';

export const DEMO_CHAT_MODEL = 'modelgate-demo';
/** A fixed creation time keeps `/v1/models` byte-for-byte stable. */
const MODEL_CREATED = 1_735_689_600;
const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);

export interface ChatRequest {
  readonly model: string;
  readonly messages: readonly ChatMessage[];
  readonly stream: boolean;
  readonly includeUsage: boolean;
  readonly maxTokens: number | undefined;
}

interface RequestProblem {
  readonly message: string;
  readonly param: string | null;
}

/** Tracks streams so the server can stop them on close and tests can see they stopped. */
export interface StreamRegistry {
  readonly active: Set<AbortController>;
  completed: number;
  aborted: number;
}

/** OpenAI's error body. */
export function sendOpenAiError(
  res: ServerResponse,
  status: number,
  message: string,
  options: { type?: string; param?: string | null; code?: string | null; headers?: Record<string, string> } = {},
): void {
  sendJson(
    res,
    status,
    {
      error: {
        message,
        type: options.type ?? 'invalid_request_error',
        param: options.param ?? null,
        code: options.code ?? null,
      },
    },
    options.headers,
  );
}

export function sendUnknownUrl(req: IncomingMessage, res: ServerResponse, path: string): void {
  sendOpenAiError(res, 404, `Unknown request URL: ${req.method} ${path}.`, { code: 'unknown_url' });
}

/** `GET /v1/models`. */
export function handleListChatModels(_req: IncomingMessage, res: ServerResponse): void {
  sendJson(res, 200, {
    object: 'list',
    data: [{ id: DEMO_CHAT_MODEL, object: 'model', created: MODEL_CREATED, owned_by: 'modelgate' }],
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseContent(content: unknown, at: string): ChatMessage['content'] | RequestProblem {
  if (content === undefined || content === null) return null;
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) {
    return { message: `Invalid type for '${at}': expected a string or an array of content parts.`, param: at };
  }
  const parts: ChatContentPart[] = [];
  for (const [i, part] of content.entries()) {
    const partAt = `${at}[${i}]`;
    if (!isObject(part) || typeof part.type !== 'string') {
      return { message: `Invalid '${partAt}': expected an object with a string 'type'.`, param: partAt };
    }
    if (part.type === 'text' && typeof part.text !== 'string') {
      return { message: `Invalid type for '${partAt}.text': expected a string.`, param: `${partAt}.text` };
    }
    parts.push(part.type === 'text' ? { type: 'text', text: part.text as string } : { type: part.type });
  }
  return parts;
}

function parseMaxTokens(body: Record<string, unknown>): number | undefined | RequestProblem {
  for (const key of ['max_completion_tokens', 'max_tokens'] as const) {
    const value = body[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      return { message: `Invalid '${key}': expected an integer of at least 1.`, param: key };
    }
    return value;
  }
  return undefined;
}

/** Validates a decoded `/v1/chat/completions` body the way OpenAI does, naming the bad field. */
export function parseChatRequest(body: unknown): ChatRequest | RequestProblem {
  if (!isObject(body)) return { message: 'The request body must be a JSON object.', param: null };
  if (body.model === undefined) return { message: 'You must provide a model parameter.', param: 'model' };
  if (typeof body.model !== 'string' || body.model === '') {
    return { message: "Invalid type for 'model': expected a non-empty string.", param: 'model' };
  }
  if (body.messages === undefined) return { message: "Missing required parameter: 'messages'.", param: 'messages' };
  if (!Array.isArray(body.messages)) {
    return { message: "Invalid type for 'messages': expected an array.", param: 'messages' };
  }
  if (body.messages.length === 0) {
    return { message: "Invalid 'messages': empty array. Expected at least one message.", param: 'messages' };
  }
  const messages: ChatMessage[] = [];
  for (const [i, m] of body.messages.entries()) {
    const at = `messages[${i}]`;
    if (!isObject(m)) return { message: `Invalid type for '${at}': expected an object.`, param: at };
    if (typeof m.role !== 'string' || !ROLES.has(m.role)) {
      return {
        message: `Invalid value for '${at}.role': expected one of ${[...ROLES].join(', ')}.`,
        param: `${at}.role`,
      };
    }
    const content = parseContent(m.content, `${at}.content`);
    if (content !== null && typeof content === 'object' && 'message' in content) return content;
    messages.push({ role: m.role, content });
  }
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') {
    return { message: "Invalid type for 'stream': expected a boolean.", param: 'stream' };
  }
  const options = body.stream_options;
  if (options !== undefined && options !== null && !isObject(options)) {
    return { message: "Invalid type for 'stream_options': expected an object.", param: 'stream_options' };
  }
  const maxTokens = parseMaxTokens(body);
  if (typeof maxTokens === 'object') return maxTokens;
  return {
    model: body.model,
    messages,
    stream: body.stream === true,
    includeUsage: isObject(options) && options.include_usage === true,
    maxTokens,
  };
}

function countTokens(messages: readonly ChatMessage[]): number {
  return messages.reduce((n, m) => n + tokenizeReply(messageText(m)).length, 0);
}

/** `POST /v1/chat/completions`, streamed as Server-Sent Events when `stream` is true. */
export async function handleChatCompletion(
  req: IncomingMessage,
  res: ServerResponse,
  options: { maxBodyBytes: number; tokenDelayMs: number; streams: StreamRegistry },
): Promise<void> {
  const read = await readBody(req, options.maxBodyBytes);
  if (!read.ok) {
    sendOpenAiError(res, 413, `Request body exceeds the limit of ${options.maxBodyBytes} bytes.`, {
      code: 'request_too_large',
    });
    return;
  }
  const text = decodeUtf8(read.body);
  let body: unknown;
  try {
    body = text === undefined ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (body === undefined) {
    sendOpenAiError(res, 400, 'We could not parse the JSON body of your request. Send a JSON object.');
    return;
  }
  const request = parseChatRequest(body);
  if ('message' in request) {
    sendOpenAiError(res, 400, request.message, { param: request.param });
    return;
  }

  const all = tokenizeReply(generateReply(request.messages));
  const truncated = request.maxTokens !== undefined && all.length > request.maxTokens;
  const tokens = truncated ? all.slice(0, request.maxTokens) : all;
  const finishReason = truncated ? 'length' : 'stop';
  const promptTokens = countTokens(request.messages);
  const usage = {
    prompt_tokens: promptTokens,
    completion_tokens: tokens.length,
    total_tokens: promptTokens + tokens.length,
  };
  const id = `chatcmpl-${randomBytes(12).toString('hex')}`;
  const created = Math.floor(Date.now() / 1000);

  if (!request.stream) {
    sendJson(res, 200, {
      id,
      object: 'chat.completion',
      created,
      model: request.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: tokens.join('') },
          logprobs: null,
          finish_reason: finishReason,
        },
      ],
      usage,
    });
    return;
  }

  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: request.model, choices, ...extra })}\n\n`;
  await streamEvents(
    res,
    {
      head: [chunk([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }])],
      tokens: tokens.map((t) => chunk([{ index: 0, delta: { content: t }, logprobs: null, finish_reason: null }])),
      tail: [
        chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: finishReason }]),
        ...(request.includeUsage ? [chunk([], { usage })] : []),
        'data: [DONE]\n\n',
      ],
    },
    options.tokenDelayMs,
    options.streams,
  );
}

/**
 * Writes SSE events as they are "produced": `head` at once, then one token every `delayMs`, then
 * `tail` as soon as the last token is out. Stops as soon as the client disconnects or the server
 * closes.
 */
async function streamEvents(
  res: ServerResponse,
  events: { readonly head: readonly string[]; readonly tokens: readonly string[]; readonly tail: readonly string[] },
  delayMs: number,
  streams: StreamRegistry,
): Promise<void> {
  const controller = new AbortController();
  const { signal } = controller;
  streams.active.add(controller);
  const onClose = () => {
    if (!res.writableFinished) controller.abort();
  };
  res.on('close', onClose);
  res.on('error', () => controller.abort());
  res.socket?.setNoDelay(true);
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  const write = async (event: string) => {
    if (signal.aborted) return;
    if (!res.write(event)) await once(res, 'drain', { signal });
  };
  try {
    for (const event of events.head) await write(event);
    for (const [i, event] of events.tokens.entries()) {
      if (i > 0 && delayMs > 0) await sleep(delayMs, undefined, { signal });
      await write(event);
    }
    for (const event of events.tail) await write(event);
  } catch {
    // Aborted while waiting: the client is gone or the server is closing.
  } finally {
    streams.active.delete(controller);
    res.off('close', onClose);
    if (signal.aborted) {
      streams.aborted++;
      res.destroy();
    } else {
      streams.completed++;
      res.end();
    }
  }
}
