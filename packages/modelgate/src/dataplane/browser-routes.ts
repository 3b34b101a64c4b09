import type { IncomingMessage, ServerResponse } from 'node:http';
import { REQUEST_ID_HEADER } from '../http/request-id.js';
import { sendError } from '../http/respond.js';
import { ERROR_CODES, type ErrorCode } from '../kernel/errors.js';
import type { DataPlaneVerifiers } from './authenticate.js';
import { requiresCredential } from './authenticate.js';
import { type BrowserTarget, cookieScope, formOrigin, pageError, safeReturnPath } from './browser-access.js';
import { type CookieScope, clearCredentialCookie, credentialCookie } from './browser-cookie.js';
import { hostDeployment, isDeploymentName } from './path.js';
import type { Route, RouteTable } from './route-table.js';
import { PAGE_HEADERS, SIGN_IN_PATH, SIGN_OUT_PATH, signInPage, signOutPage } from './sign-in-page.js';
import { requestShapeRefusal } from './stages/shape.js';

/** A refused token, as the gateway decided it (registry code, public message, headers). */
export interface TokenRefusal {
  readonly code: ErrorCode;
  readonly message?: string;
  readonly headers?: Record<string, string | string[]>;
  readonly deployment?: string;
}

export interface BrowserRoutesContext {
  readonly routes: RouteTable;
  readonly verifiers: DataPlaneVerifiers;
  /** `base_domain`: a Host of `<deployment>.<base_domain>` names the deployment. */
  readonly baseDomain: string;
  readonly proto: 'http' | 'https';
  /**
   * Verifies `token` (as typed: it may not even look like a token) for a protected `route`
   * exactly as a request carrying it as a Bearer header would be, failure throttle included:
   * `undefined` when it is accepted.
   */
  checkToken(req: IncomingMessage, route: Route, token: string): Promise<TokenRefusal | undefined>;
  /** Called for every refused sign-in (the audit log). */
  refused(req: IncomingMessage, refusal: TokenRefusal, requestId: string): void;
}

/** Largest sign-in form accepted: a token is at most 8 KB, the return path the rest. */
const MAX_FORM_BYTES = 16 * 1024;

/**
 * The gateway's own browser routes under `/_modelgate/` (B7), answered before routing so they
 * never reach an upstream, on a deployment's own host too:
 *
 * - `POST /_modelgate/sign-in` (form: `token`, `return_to`, and `deployment` under path routing):
 *   a token that opens the deployment is set as its cookie and the browser is sent back (303) to
 *   `return_to`; any other token re-renders the page with the reason and sets nothing.
 * - `GET /_modelgate/sign-out[?deployment=NAME]`: a confirmation page; `POST` clears the cookie.
 *
 * Forms are accepted only from the gateway's own page (`Origin`, `Sec-Fetch-Site`).
 *
 * @example
 * ```ts
 * const browser = createBrowserRoutes({ routes, verifiers, baseDomain: '', proto: 'http', checkToken, refused });
 * if (url.startsWith(BROWSER_PREFIX)) return browser(req, res, requestId);
 * ```
 */
export function createBrowserRoutes(ctx: BrowserRoutesContext) {
  /** The deployment a browser route is about: the Host's under host routing, else the one named. */
  function targetOf(req: IncomingMessage, named: string | null): BrowserTarget | ErrorCode {
    if (ctx.baseDomain) {
      const host = hostDeployment(req.headers.host, ctx.baseDomain);
      if (host !== undefined) return { deployment: host, hostRouted: true };
    }
    if (named === null || !isDeploymentName(named)) return named === null ? 'BAD_REQUEST' : 'DEPLOYMENT_NOT_FOUND';
    return { deployment: named, hostRouted: false };
  }

  /** The route of a target, or why there is none to sign in to. */
  function routeOf(target: BrowserTarget): Route | ErrorCode {
    const route = ctx.routes.get(target.deployment);
    if (!route) return 'DEPLOYMENT_NOT_FOUND';
    if (route.stale) return 'NOT_READY';
    if (!route.enabled) return 'DEPLOYMENT_DISABLED';
    return route;
  }

  /** `Secure` when the listener is TLS, or the browser reached it over TLS (a proxy in front). */
  function scopeOf(target: BrowserTarget, scheme: 'http' | 'https'): CookieScope {
    return cookieScope(target, scheme === 'https' || ctx.proto === 'https');
  }

  /**
   * The common start of both forms: from the gateway's own page, readable, naming a deployment.
   * Anything else is answered here, and resolves `undefined`.
   */
  async function acceptForm(
    req: IncomingMessage,
    res: ServerResponse,
    id: string,
  ): Promise<{ scheme: 'http' | 'https'; form: URLSearchParams; target: BrowserTarget } | undefined> {
    const scheme = formOrigin(req.headers, ctx.proto);
    if (scheme === undefined) {
      sendError(res, 'FORM_CROSS_SITE', id);
      return undefined;
    }
    const form = await readForm(req, res, id);
    if (form === undefined) return undefined;
    const target = targetOf(req, single(form, 'deployment'));
    if (typeof target === 'string') return sendTargetError(res, id, target);
    return { scheme, form, target };
  }

  async function signIn(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const accepted = await acceptForm(req, res, id);
    if (accepted === undefined) return;
    const { scheme, form, target } = accepted;
    const route = routeOf(target);
    if (typeof route === 'string') {
      sendError(res, route, id);
      return;
    }
    const returnTo = safeReturnPath(single(form, 'return_to'), target);
    if (!requiresCredential(route.snapshot, ctx.verifiers)) return redirect(res, id, returnTo);
    const page = { deployment: target.deployment, returnTo, hostRouted: target.hostRouted };
    const token = single(form, 'token')?.trim();
    if (token === undefined || token.length === 0) {
      sendPage(res, 400, id, signInPage({ ...page, error: 'Enter a token.' }));
      return;
    }
    const refusal = await ctx.checkToken(req, route, token);
    if (refusal === undefined) {
      return redirect(res, id, returnTo, credentialCookie(token, scopeOf(target, scheme)));
    }
    ctx.refused(req, refusal, id);
    const error = pageError(refusal, false);
    sendPage(res, ERROR_CODES[refusal.code].status, id, signInPage({ ...page, error }), refusal.headers);
  }

  async function signOut(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    if (req.method === 'GET' || req.method === 'HEAD') {
      const query = new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
      const target = targetOf(req, single(query, 'deployment'));
      if (typeof target === 'string') return sendTargetError(res, id, target);
      if (!ctx.routes.get(target.deployment)) {
        sendError(res, 'DEPLOYMENT_NOT_FOUND', id);
        return;
      }
      const returnTo = safeReturnPath(undefined, target);
      sendPage(res, 200, id, signOutPage({ deployment: target.deployment, returnTo, hostRouted: target.hostRouted }));
      return;
    }
    const accepted = await acceptForm(req, res, id);
    if (accepted === undefined) return;
    const { scheme, target } = accepted;
    // No route lookup: a deleted deployment's cookie can still be cleared.
    redirect(res, id, safeReturnPath(undefined, target), clearCredentialCookie(scopeOf(target, scheme)));
  }

  return function handle(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const shape = requestShapeRefusal(req.method, req.rawHeaders);
    if (shape) {
      sendError(res, shape.code, id, { message: shape.message });
      return Promise.resolve();
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === SIGN_IN_PATH) {
      if (req.method !== 'POST') return Promise.resolve(methodNotAllowed(res, id, 'POST'));
      return signIn(req, res, id);
    }
    if (path === SIGN_OUT_PATH) {
      if (req.method !== 'POST' && req.method !== 'GET' && req.method !== 'HEAD') {
        return Promise.resolve(methodNotAllowed(res, id, 'GET, HEAD, POST'));
      }
      return signOut(req, res, id);
    }
    sendError(res, 'ROUTE_NOT_FOUND', id);
    return Promise.resolve();
  };
}

/** A form field sent once: `null` when absent; a repeated field is treated as absent. */
function single(form: URLSearchParams, name: string): string | null {
  const all = form.getAll(name);
  return all.length === 1 ? (all[0] as string) : null;
}

/** No deployment named (400), or not a deployment name (404). */
function sendTargetError(res: ServerResponse, id: string, code: ErrorCode): undefined {
  sendError(res, code, id, code === 'BAD_REQUEST' ? { message: 'The form must name one deployment' } : {});
  return undefined;
}

/**
 * Reads an `application/x-www-form-urlencoded` body of at most {@link MAX_FORM_BYTES}; answers
 * 415 or 413 itself and resolves `undefined` then.
 */
async function readForm(req: IncomingMessage, res: ServerResponse, id: string): Promise<URLSearchParams | undefined> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    req.resume();
    sendError(res, 'UNSUPPORTED_MEDIA_TYPE', id, { message: 'The form must be application/x-www-form-urlencoded' });
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) {
      // The rest is never read: close the connection rather than parse it as a next request.
      sendError(res, 'PAYLOAD_TOO_LARGE', id, { headers: { connection: 'close' } });
      return undefined;
    }
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** Answers with one of the gateway's HTML pages (its security headers win over `headers`). */
export function sendPage(
  res: ServerResponse,
  status: number,
  id: string,
  html: string,
  headers: Record<string, string | string[]> = {},
): number {
  const length = Buffer.byteLength(html);
  res.writeHead(status, {
    ...headers,
    ...PAGE_HEADERS,
    'content-length': length,
    [REQUEST_ID_HEADER]: id,
  });
  res.end(html);
  return length;
}

/** 303 See Other: the browser loads `location` with GET, whatever method brought it here. */
function redirect(res: ServerResponse, id: string, location: string, cookie?: string): void {
  res.writeHead(303, {
    location,
    'cache-control': 'no-store',
    'content-length': 0,
    [REQUEST_ID_HEADER]: id,
    ...(cookie === undefined ? {} : { 'set-cookie': cookie }),
  });
  res.end();
}

function methodNotAllowed(res: ServerResponse, id: string, allow: string): void {
  sendError(res, 'METHOD_NOT_ALLOWED', id, { headers: { allow } });
}
