import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isLoopbackHost, type ListenAddress, parseAddress } from '../../config/address.js';
import { type HostName, parseAuthority, parseHostList } from '../../config/host-list.js';
import type { Config } from '../../config/schema.js';
import { type ErrorCode, ModelgateError } from '../../kernel/errors.js';

/** What the management listener answers to, decided once at start. */
export interface BrowserGuardPolicy {
  /** True when token authorization is off: no credential protects the API from a browser. */
  readonly open: boolean;
  readonly protocol: 'http' | 'https';
  /** Whether `Host` is checked at all (see {@link browserGuardPolicy}). */
  readonly checkHost: boolean;
  readonly publicHosts: readonly HostName[];
}

/** The request facts the guard decides on. */
export interface GuardedRequest {
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  /** The request target as sent; in absolute form (`http://host/path`) its authority wins over `Host`. */
  readonly target?: string;
  /** The listener's side of the connection: the address and port the client actually reached. */
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1']);
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The policy for a management listener. The `Host` allowlist applies when the API is open
 * (DNS rebinding would hand it to any web page), when the listener is bound to loopback (a
 * rebinding page could still read open routes such as health and the OpenAPI document), and
 * whenever `public_hosts` is set. A listener bound beyond loopback with authentication on and no
 * `public_hosts` answers any `Host`, so existing setups reached by IP or DNS name keep working.
 */
export function browserGuardPolicy(
  config: Pick<Config, 'management_address' | 'public_hosts'>,
  open: boolean,
): BrowserGuardPolicy {
  // The config loader has already refused a malformed address or host list.
  const listener = parseAddress(config.management_address) as ListenAddress;
  const hosts = parseHostList(config.public_hosts);
  const list = typeof hosts === 'string' ? [] : hosts;
  return {
    open,
    protocol: listener.protocol,
    checkHost: open || isLoopbackHost(listener.host) || list.length > 0,
    publicHosts: list,
  };
}

/**
 * Decides whether a management request may proceed: the code to refuse it with, or undefined.
 * Pure; {@link installBrowserGuard} applies it to every request before authentication.
 *
 * - `HOST_NOT_ALLOWED` (421): the `Host` does not name this listener: a loopback name or the
 *   address the connection reached, with the listener's port, or a `public_hosts` entry.
 * - `CROSS_ORIGIN_REFUSED` (403): the API is open, the method can change something, and the
 *   request comes from another site (`Origin` not naming this listener, or
 *   `Sec-Fetch-Site: cross-site`). Requests without `Origin` (the CLI, curl) pass.
 *
 * @example
 * ```ts
 * guardDecision({ method: 'POST', headers: { host: 'evil.example' }, localAddress: '127.0.0.1', localPort: 8081 }, policy);
 * // 'HOST_NOT_ALLOWED'
 * ```
 */
export function guardDecision(req: GuardedRequest, policy: BrowserGuardPolicy): ErrorCode | undefined {
  if (policy.checkHost && !namesListener(authorityOf(req), req, policy)) return 'HOST_NOT_ALLOWED';
  if (!policy.open || SAFE_METHODS.has(req.method)) return undefined;
  const site = req.headers['sec-fetch-site'];
  if (site?.split(',').some((s) => s.trim().toLowerCase() === 'cross-site')) return 'CROSS_ORIGIN_REFUSED';
  const origin = req.headers.origin;
  if (origin !== undefined && !isOwnOrigin(origin, req, policy)) return 'CROSS_ORIGIN_REFUSED';
  return undefined;
}

/** Registers {@link guardDecision} as the first check of every management request. */
export function installBrowserGuard(app: FastifyInstance, policy: BrowserGuardPolicy): void {
  app.addHook('onRequest', async (req: FastifyRequest) => {
    const { socket } = req.raw;
    const code = guardDecision(
      {
        method: req.method,
        headers: req.headers,
        target: req.raw.url,
        localAddress: socket.localAddress,
        localPort: socket.localPort,
      },
      policy,
    );
    if (code) throw new ModelgateError(code);
  });
}

/** RFC 9112 §3.2.2: with an absolute-form target, its authority is the one the client asked for. */
function authorityOf(req: GuardedRequest): string | undefined {
  const absolute = req.target === undefined ? null : /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(req.target);
  return absolute ? absolute[1] : req.headers.host;
}

function isOwnOrigin(origin: string, req: GuardedRequest, policy: BrowserGuardPolicy): boolean {
  const prefix = `${policy.protocol}://`;
  if (!origin.startsWith(prefix)) return false;
  return namesListener(origin.slice(prefix.length), req, policy);
}

function namesListener(authority: string | undefined, req: GuardedRequest, policy: BrowserGuardPolicy): boolean {
  const name = authority === undefined ? undefined : parseAuthority(authority);
  if (!name) return false;
  const port = name.port ?? (policy.protocol === 'https' ? 443 : 80);
  if (policy.publicHosts.some((h) => h.host === name.host && (h.port === undefined || h.port === port))) return true;
  if (port !== req.localPort) return false;
  // An IP literal cannot be rebound: the browser connected to exactly that address.
  return LOOPBACK_NAMES.has(name.host) || name.host === unmapped(req.localAddress);
}

/** `::ffff:10.0.0.5` (IPv4 on a dual-stack socket) → `10.0.0.5`. */
function unmapped(address: string | undefined): string | undefined {
  return address?.toLowerCase().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
}
