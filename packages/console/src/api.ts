import { Client, ModelgateApiError, type WhoAmI } from '@modelgate/client';

/** The header the management API accepts, instead of a same-origin `Origin`, on cookie-authenticated writes. */
const CSRF_HEADER = 'x-modelgate-csrf';

/**
 * The gateway's base URL, written into the page by the node that serves it (empty when the node
 * runs no data plane); only used to show how to call a deployment, never fetched.
 */
export function inferenceUrl(): string {
  return metaOf('modelgate-inference');
}

/** The node-wide HTTP Basic username (`basic_auth_username`), written into the page by the node. */
export function basicUsername(): string {
  return metaOf('modelgate-basic-username') || 'modelgate';
}

function metaOf(name: string): string {
  return document.querySelector(`meta[name="${name}"]`)?.getAttribute('content') || '';
}

/**
 * A client for this page's own origin. Without a token it rides the session cookie (HttpOnly,
 * so no script here ever reads it) and sends the CSRF header on every call; with a pasted token
 * the token lives in this object only: never in storage, never in a URL.
 */
export function makeClient(token?: string): Client {
  return new Client(location.origin, {
    token,
    inferenceEndpoint: inferenceUrl() || undefined,
    fetch: (input, init) =>
      fetch(input, {
        ...init,
        credentials: 'same-origin',
        headers: { ...(init.headers as Record<string, string>), [CSRF_HEADER]: '1' },
      }),
  });
}

/** What the user sees for a failed call: the API's own message (it never carries a credential). */
export function messageOf(err: unknown): string {
  if (err instanceof ModelgateApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Whether the failure is the API saying the caller is not (or no longer) signed in. */
export function isSignedOut(err: unknown): boolean {
  return err instanceof ModelgateApiError && err.status === 401;
}

/** A global privilege the API says the caller holds (keys and an open node hold them all). */
export function holds(me: WhoAmI, privilege: 'admin' | 'create_service'): boolean {
  return (me.privileges ?? []).includes(privilege);
}

/** How the caller is named in the header. */
export function callerName(me: WhoAmI): string {
  if (me.kind === 'user') return me.user ?? me.id;
  if (me.kind === 'anonymous') return 'anyone (token authorization is off)';
  return me.kind.replaceAll('_', ' ');
}

export type { Client, WhoAmI };
