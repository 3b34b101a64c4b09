import { connect, type Socket } from 'node:net';
import { parseResponseHead } from './http.js';

/** One response read off a raw connection; `raw` is its exact text. */
export interface RawExchange {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly raw: string;
}

/** A hand-driven HTTP/1.1 client connection, for what no client library sends. */
export interface RawClient {
  write(data: string | Buffer): void;
  /**
   * The next response on the connection (an interim `1xx` counts as one). `bodiless` for the
   * answer to `HEAD`. Rejects when the connection closes first.
   */
  response(options?: { bodiless?: boolean }): Promise<RawExchange>;
  /** Resolves once `text` has been received (nothing is consumed). */
  received(text: string): Promise<void>;
  /** Everything received, once the server has closed the connection. */
  closed(): Promise<string>;
  destroy(): void;
}

/** Opens a raw TCP connection to `baseUrl`'s host and port. */
export async function rawClient(baseUrl: string): Promise<RawClient> {
  const url = new URL(baseUrl);
  const socket: Socket = connect(Number(url.port), url.hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let all = '';
  let unread = '';
  let ended = false;
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  socket.on('data', (data: Buffer) => {
    const text = data.toString('latin1');
    all += text;
    unread += text;
    wake();
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    ended = true;
    wake();
  });

  /** Waits until `take` can cut a value off `unread`. */
  function next<T>(take: () => T | undefined): Promise<T> {
    return new Promise((resolve, reject) => {
      const attempt = () => {
        const value = take();
        if (value !== undefined) {
          waiters.delete(attempt);
          resolve(value);
        } else if (ended) {
          waiters.delete(attempt);
          reject(new Error(`connection closed; unread: ${JSON.stringify(unread)}`));
        }
      };
      waiters.add(attempt);
      attempt();
    });
  }

  return {
    write: (data) => socket.write(data),
    response(options = {}) {
      return next(() => {
        const end = unread.indexOf('\r\n\r\n');
        if (end < 0) return undefined;
        const { status, headers } = parseResponseHead(unread.slice(0, end));
        let length = 0;
        if (status >= 200 && !options.bodiless) {
          if (headers['content-length'] !== undefined) length = Number(headers['content-length']);
          else if (headers['transfer-encoding'] === 'chunked') {
            const last = unread.indexOf('\r\n0\r\n\r\n', end);
            if (last < 0) return undefined;
            length = last + 7 - end - 4;
          } else if (!ended)
            return undefined; // read to close
          else length = unread.length - end - 4;
        }
        if (unread.length < end + 4 + length) return undefined;
        const raw = unread.slice(0, end + 4 + length);
        unread = unread.slice(raw.length);
        return { status, headers, body: raw.slice(end + 4), raw };
      });
    },
    received: (text) => next(() => (all.includes(text) ? true : undefined)).then(() => undefined),
    closed: () => next(() => (ended ? all : undefined)),
    destroy: () => socket.destroy(),
  };
}
