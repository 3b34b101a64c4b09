import type { TestNode } from './in-process-node.js';

/** A password that passes the rules; tests add a suffix to make each one distinct. */
export const GOOD_PASSWORD = 'correct horse battery staple';

/** Calls the management API with a bearer credential (a session, a key). */
export async function api(
  t: TestNode,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers; text: string }> {
  const res = await fetch(`${t.node.urls.management}/api/v1${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, headers: res.headers, text };
}

/** Creates a user (as the management key) and signs it in; returns its session token. */
export async function userWithSession(
  t: TestNode,
  username: string,
  groups: string[] = [],
  password = `${GOOD_PASSWORD} ${username}`,
): Promise<string> {
  const made = await api(t, t.keys.management, 'POST', '/users', { username, password, groups });
  if (made.status !== 201) throw new Error(`create user ${username}: ${made.status} ${made.text}`);
  return signIn(t, username, password);
}

export async function signIn(t: TestNode, username: string, password: string): Promise<string> {
  const res = await api(t, undefined, 'POST', '/sessions', { username, password });
  if (res.status !== 201) throw new Error(`sign in ${username}: ${res.status} ${res.text}`);
  return res.body.token as string;
}
