/** A listener address as TorchServe writes it: `http://127.0.0.1:8080` or `https://[::1]:8443`. */
export interface ListenAddress {
  readonly protocol: 'http' | 'https';
  /** Host to bind, without IPv6 brackets. */
  readonly host: string;
  readonly port: number;
}

/**
 * Parses a listener address, or returns a reason it is not one.
 *
 * @example
 * ```ts
 * parseAddress('http://0.0.0.0:8080'); // { protocol: 'http', host: '0.0.0.0', port: 8080 }
 * parseAddress('localhost:8080');      // 'must look like http://HOST:PORT or https://HOST:PORT'
 * ```
 */
export function parseAddress(text: string): ListenAddress | string {
  const shape = 'must look like http://HOST:PORT or https://HOST:PORT';
  const match = /^(https?):\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})\/?$/.exec(text);
  if (!match) return shape;
  const [, protocol, rawHost, rawPort] = match as unknown as [string, 'http' | 'https', string, string];
  const port = Number(rawPort);
  if (port > 65535) return `port ${port} is out of range (0-65535)`;
  const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost;
  return { protocol, host, port };
}

/** True when a bound host is reachable only from this machine. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
