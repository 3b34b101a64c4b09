/** One `Host` a listener answers to: a name or IP literal, and a port when the entry gave one. */
export interface HostName {
  /** Lowercase, IPv6 without brackets. */
  readonly host: string;
  readonly port: number | undefined;
}

const NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Parses an HTTP authority as it appears in a `Host` header or an `Origin`'s host part:
 * `name`, `name:port`, `1.2.3.4:port`, `[::1]:port`. Anything else (userinfo, a path, an empty
 * or out-of-range port, a trailing dot) is not a host name and gives undefined.
 *
 * @example
 * ```ts
 * parseAuthority('LocalHost:8081'); // { host: 'localhost', port: 8081 }
 * parseAuthority('[::1]');          // { host: '::1', port: undefined }
 * parseAuthority('evil@x:1');       // undefined
 * ```
 */
export function parseAuthority(text: string): HostName | undefined {
  const match = /^(\[[0-9a-f:.]+\]|[^[\]:]+)(?::(\d{1,5}))?$/i.exec(text);
  if (!match) return undefined;
  const [, rawHost = '', rawPort] = match;
  const port = rawPort === undefined ? undefined : Number(rawPort);
  if (port !== undefined && port > 65535) return undefined;
  const host = rawHost.toLowerCase();
  if (host.startsWith('[')) return { host: host.slice(1, -1), port };
  return NAME.test(host) ? { host, port } : undefined;
}

/**
 * Parses the `public_hosts` config value: comma-separated `host` or `host:port` entries
 * (blank entries ignored). Returns the entries, or a problem naming the first bad one.
 *
 * @example
 * ```ts
 * parseHostList('models.example.com, 10.0.0.5:8081'); // [{ host: 'models.example.com' }, { host: '10.0.0.5', port: 8081 }]
 * ```
 */
export function parseHostList(text: string): readonly HostName[] | string {
  const entries: HostName[] = [];
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const parsed = parseAuthority(entry);
    if (!parsed) return `must be host or host:port entries separated by commas, got ${JSON.stringify(entry)}`;
    entries.push(parsed);
  }
  return entries;
}
