import { type Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends a hand-written HTTP/1.1 request over a raw socket, for what fetch refuses to send
 * (duplicate headers, odd paths). `Connection: close` is added, and `Host` unless the lines
 * have one or `withHost` is false.
 */
export function rawRequest(
  baseUrl: string,
  requestLine: string,
  headerLines: readonly string[],
  withHost = true,
): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      data += chunk;
    });
    socket.on('error', reject);
    socket.on('end', () => resolve(parseRaw(data)));
    const host = !withHost || headerLines.some((h) => /^host:/i.test(h)) ? '' : `Host: ${url.host}\r\n`;
    socket.write(`${requestLine}\r\n${host}${headerLines.map((h) => `${h}\r\n`).join('')}Connection: close\r\n\r\n`);
  });
}

function parseRaw(data: string): RawResponse {
  const split = data.indexOf('\r\n\r\n');
  const { status, headers } = parseResponseHead(data.slice(0, split));
  let body = data.slice(split + 4);
  if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
  return { status, headers, body };
}

/** Status and lower-cased headers of a response head (the text before the blank line). */
export function parseResponseHead(head: string): { status: number; headers: Record<string, string> } {
  const lines = head.split('\r\n');
  const status = Number(lines[0]?.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status, headers };
}

function dechunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    const size = Number.parseInt(rest.slice(0, eol), 16);
    if (!size) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

/** GET with an optional bearer token; returns status, headers and parsed JSON. */
export async function getJson(
  url: string,
  token?: string,
  init: RequestInit = {},
): Promise<{
  status: number;
  headers: Headers;
  body: Record<string, unknown> & { error?: { code: string; message: string } };
}> {
  const headers = new Headers(init.headers);
  if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
  const res = await fetch(url, { ...init, headers });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: res.status, headers: res.headers, body };
}

/**
 * One HTTP request with node:http, so a test can choose the client's local address
 * (127.0.0.2 is another client on loopback) and send any headers.
 */
export function call(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    localAddress?: string;
    /** The request target exactly as sent (a URL would normalize `..` and `%2e`). */
    rawPath?: string;
    /** A keep-alive agent to reuse its connections; default: a fresh connection, closed after. */
    agent?: Agent | false;
  } = {},
): Promise<{
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Every header line as sent, lower-cased names: repeated headers stay separate. */
  distinct: Record<string, string[]>;
  text: string;
  json: any;
}> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: u.hostname,
        port: u.port,
        path: options.rawPath ?? `${u.pathname}${u.search}`,
        method: options.method ?? 'GET',
        headers: options.headers,
        localAddress: options.localAddress,
        agent: options.agent ?? false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => {
          let json: any;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          const distinct = res.headersDistinct as Record<string, string[]>;
          resolve({ status: res.statusCode ?? 0, headers: res.headers, distinct, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * Calls `<management>/api/v1<path>` with a bearer credential (none when undefined) and a JSON
 * body; the answer's body parsed, its headers kept.
 */
export async function manageAt(
  management: string,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${management}/api/v1${path}`, {
    method,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}
