import { createHash } from 'node:crypto';

/**
 * The small HTML pages of browser access (B7): the sign-in form a browser gets instead of a bare
 * JSON 401, and the sign-out confirmation. Pure rendering plus the security headers they are
 * served with. No script at all; the one style sheet is allowed by its hash, so the CSP needs
 * neither `unsafe-inline` nor a per-request nonce.
 */

/** Where the gateway's own browser routes live; never forwarded upstream, also on a deployment's host. */
export const BROWSER_PREFIX = '/_modelgate/';
export const SIGN_IN_PATH = '/_modelgate/sign-in';
export const SIGN_OUT_PATH = '/_modelgate/sign-out';

const STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;color:#222}' +
  'h1{font-size:1.3rem}label{display:block;margin:1rem 0 .3rem}' +
  'input{width:100%;box-sizing:border-box;padding:.5rem;font:inherit}' +
  'button{margin-top:1rem;padding:.5rem 1.2rem;font:inherit}' +
  '.error{color:#a00;background:#fee;border:1px solid #fbb;padding:.5rem .8rem}small{color:#666}';

const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

/**
 * Headers of every page: a CSP that allows nothing but the page's own style and forms posted
 * back to this origin, no framing (clickjacking), no caching, no MIME sniffing, and a referrer
 * policy that keeps the page's `Origin` on its own POST (`no-referrer` would turn it into `null`).
 */
export const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
});

export interface SignInPageOptions {
  /** The deployment being signed in to. */
  readonly deployment: string;
  /** Where the browser goes once signed in (validated again when the form comes back). */
  readonly returnTo: string;
  /** Path routing: the form names the deployment; host routing: the Host does. */
  readonly hostRouted: boolean;
  /** Why the last attempt failed; public text only, never the token. */
  readonly error?: string | undefined;
}

/**
 * The sign-in form. The token field is never filled in again, whatever the outcome.
 *
 * @example
 * ```ts
 * res.writeHead(401, PAGE_HEADERS).end(signInPage({ deployment: 'demo', returnTo: '/demo/', hostRouted: false }));
 * ```
 */
export function signInPage(options: SignInPageOptions): string {
  const name = escapeHtml(options.deployment);
  return page(
    `Sign in to ${name}`,
    `<p>The deployment <b>${name}</b> is protected. Enter a token that opens it: an API token (<code>mgt_</code>) with Protected Endpoint access to this deployment, an API key of the deployment, or the node's inference key.</p>
${errorBlock(options.error)}<form method="post" action="${SIGN_IN_PATH}">
${hiddenFields(options)}<label for="token">Token</label>
<input id="token" name="token" type="password" autocomplete="off" spellcheck="false" required autofocus>
<button type="submit">Sign in</button>
</form>
<p><small>The token is kept in a cookie of this browser for this deployment only, until the browser closes or you <a href="${escapeHtml(signOutUrl(options))}">sign out</a>.</small></p>`,
  );
}

/** The sign-out confirmation: a button, so that a link or image on another page cannot sign anyone out. */
export function signOutPage(options: Omit<SignInPageOptions, 'error'>): string {
  const name = escapeHtml(options.deployment);
  return page(
    `Sign out of ${name}`,
    `<p>Forget the token this browser keeps for <b>${name}</b>?</p>
<form method="post" action="${SIGN_OUT_PATH}">
${hiddenFields(options)}<button type="submit">Sign out</button>
</form>`,
  );
}

/** The sign-out page of a deployment: its Host names it under host routing, the query otherwise. */
function signOutUrl(options: Omit<SignInPageOptions, 'error'>): string {
  return options.hostRouted ? SIGN_OUT_PATH : `${SIGN_OUT_PATH}?deployment=${encodeURIComponent(options.deployment)}`;
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${title}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${title}</h1>
${body}
</body>
</html>
`;
}

function hiddenFields(options: Omit<SignInPageOptions, 'error'>): string {
  const deployment = options.hostRouted
    ? ''
    : `<input type="hidden" name="deployment" value="${escapeHtml(options.deployment)}">\n`;
  return `${deployment}<input type="hidden" name="return_to" value="${escapeHtml(options.returnTo)}">\n`;
}

function errorBlock(error: string | undefined): string {
  return error === undefined ? '' : `<p class="error" role="alert">${escapeHtml(error)}</p>\n`;
}

/** Text for HTML content and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
