import WebSocket from 'ws';

/**
 * Opens a WebSocket through the gateway with a bearer credential, and adds it to `opened` (for
 * the caller to terminate); rejects when the handshake is refused.
 */
export async function openRelay(url: string, credential: string, opened: WebSocket[]): Promise<WebSocket> {
  const socket = new WebSocket(url, { headers: { authorization: `Bearer ${credential}` } });
  opened.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return socket;
}

/** The upstream's answer through the relay (an echo server): proof that it is open end to end. */
export function echo(socket: WebSocket, text: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    socket.once('message', (data) => resolve(data.toString()));
    socket.once('close', () => reject(new Error('the relay closed')));
    socket.send(text);
  });
}

/** Resolves once the relay is closed (at once if it already is). */
export function closed(socket: WebSocket): Promise<void> {
  return new Promise<void>((resolve) => {
    if (socket.readyState === WebSocket.CLOSED) resolve();
    else socket.once('close', () => resolve());
  });
}
