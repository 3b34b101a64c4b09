import type { AddressInfo } from 'node:net';
import { createServer, type Socket } from 'node:net';

/** A model server on a raw socket that records every byte it receives. */
export interface RawUpstream {
  readonly url: string;
  /** Every byte received since the last `clear()`, in arrival order, as latin1 text. */
  received(): string;
  /** Request heads this server parsed since the last `clear()` (its own, naive parsing). */
  readonly heads: string[];
  /** For each of `heads`, the number of the connection it came on (numbered from 1, never reset). */
  readonly headConnections: number[];
  clear(): void;
  close(): Promise<void>;
}

/**
 * A deliberately naive upstream, parsing only what it must: each request head (up to the blank
 * line) is answered at once with 200 and `{"n":<count>}`.
 *
 * - `readBodies: false`: it never reads a body, like many model servers on `GET`, so body bytes
 *   are parsed as the next request on the connection: the smuggling target.
 * - `readBodies: true`: it skips a `Content-Length` or chunked body before the next head.
 */
export async function rawUpstream(options: { readBodies: boolean }): Promise<RawUpstream> {
  let chunks: Buffer[] = [];
  const heads: string[] = [];
  const headConnections: number[] = [];
  let accepted = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    const connection = ++accepted;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let pending = '';
    socket.on('data', (data: Buffer) => {
      chunks.push(data);
      pending += data.toString('latin1');
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = pending.slice(0, end);
        let rest = pending.slice(end + 4);
        if (options.readBodies) {
          const skipped = skipBody(head, rest);
          if (skipped === undefined) return; // wait for the rest of the body
          rest = skipped;
        }
        pending = rest;
        heads.push(head);
        headConnections.push(connection);
        const body = JSON.stringify({ n: heads.length });
        socket.write(
          `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
        );
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received: () => Buffer.concat(chunks).toString('latin1'),
    heads,
    headConnections,
    clear() {
      chunks = [];
      heads.length = 0;
      headConnections.length = 0;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** What follows the body of a request, or `undefined` when the body is not all there yet. */
function skipBody(head: string, rest: string): string | undefined {
  const length = /\r\ncontent-length: *(\d+)/i.exec(head);
  if (length) {
    const n = Number(length[1]);
    return rest.length < n ? undefined : rest.slice(n);
  }
  if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
    const end = rest.indexOf('\r\n0\r\n\r\n');
    if (rest.startsWith('0\r\n\r\n')) return rest.slice(5);
    return end < 0 ? undefined : rest.slice(end + 7);
  }
  return rest;
}
