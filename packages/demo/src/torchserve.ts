import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeUtf8, mediaType, readBody, sendJson } from './http.js';
import { classify } from './sentiment.js';

/** The one model this server hosts, named as a TorchServe model archive would be. */
export const SENTIMENT_MODEL = { name: 'sentiment', version: '1.0', url: 'sentiment.mar' } as const;

/** TorchServe's error body: `{"code","type","message"}`. */
export function sendTorchServeError(
  res: ServerResponse,
  code: number,
  type: string,
  message: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  sendJson(res, code, { code, type, message }, headers);
}

export function sendResourceNotFound(res: ServerResponse): void {
  sendTorchServeError(
    res,
    404,
    'ResourceNotFoundException',
    'Requested resource is not found, please refer to API document.',
  );
}

export function sendMethodNotAllowed(res: ServerResponse, allow: string): void {
  sendTorchServeError(
    res,
    405,
    'MethodNotAllowedException',
    'Requested method is not allowed, please refer to API document.',
    { allow },
  );
}

/** `GET /ping`: TorchServe's health answer. */
export function handlePing(_req: IncomingMessage, res: ServerResponse): void {
  sendJson(res, 200, { status: 'Healthy' });
}

/** `GET /models`: TorchServe's management list shape. */
export function handleListModels(_req: IncomingMessage, res: ServerResponse): void {
  sendJson(res, 200, { models: [{ modelName: SENTIMENT_MODEL.name, modelUrl: SENTIMENT_MODEL.url }] });
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * `POST /predictions/<model>[/<version>]`: JSON `{"text": ...}` or a `text/plain` body in,
 * `{"label","score"}` out.
 */
export async function handlePrediction(
  req: IncomingMessage,
  res: ServerResponse,
  segments: readonly string[],
  maxBodyBytes: number,
): Promise<void> {
  const [model, version, ...rest] = segments;
  if (model === undefined || model === '' || rest.length > 0 || version === '') {
    sendResourceNotFound(res);
    return;
  }
  if (model !== SENTIMENT_MODEL.name) {
    sendTorchServeError(res, 404, 'ModelNotFoundException', `Model not found: ${safeDecode(model)}`);
    return;
  }
  if (version !== undefined && version !== SENTIMENT_MODEL.version) {
    sendTorchServeError(
      res,
      404,
      'ModelVersionNotFoundException',
      `Model version: ${safeDecode(version)} does not exist for model: ${model}`,
    );
    return;
  }
  if (req.method !== 'POST' && req.method !== 'PUT') {
    sendMethodNotAllowed(res, 'POST, PUT');
    return;
  }

  const read = await readBody(req, maxBodyBytes);
  if (!read.ok) {
    sendTorchServeError(
      res,
      413,
      'RequestEntityTooLargeException',
      `Request body exceeds the limit of ${maxBodyBytes} bytes`,
    );
    return;
  }
  const decoded = decodeUtf8(read.body);
  if (decoded === undefined) {
    sendTorchServeError(res, 400, 'BadRequest', 'Request body is not valid UTF-8');
    return;
  }

  let text: string;
  if (mediaType(req).startsWith('text/')) {
    if (decoded.trim() === '') {
      sendTorchServeError(res, 400, 'BadRequest', 'Request body is empty; send the text to classify');
      return;
    }
    text = decoded;
  } else {
    let parsed: unknown;
    try {
      parsed = JSON.parse(decoded);
    } catch {
      sendTorchServeError(res, 400, 'BadRequest', 'Request body is not valid JSON; send {"text": "..."}');
      return;
    }
    const value = typeof parsed === 'object' && parsed !== null ? (parsed as { text?: unknown }).text : undefined;
    if (typeof value !== 'string') {
      sendTorchServeError(res, 400, 'BadRequest', 'Missing "text": send {"text": "..."} with a string value');
      return;
    }
    text = value;
  }

  const { label, score } = classify(text);
  sendJson(res, 200, { label, score });
}
