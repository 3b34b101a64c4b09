/** What a plan is made of: changes, each with the management API requests that make it. */

export type ActionKind =
  | 'infrastructure'
  | 'service'
  | 'version'
  | 'secret'
  | 'deployment'
  | 'api-keys'
  | 'group'
  | 'grant';

/** One call to the management API (`path` under the endpoint, starting with `/api/v1/`). */
export interface ApiRequest {
  readonly method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly path: string;
  readonly body?: Record<string, unknown>;
}

/** One change, and the API requests that make it. Nothing in it is a secret value. */
export interface Action {
  readonly op: 'create' | 'update' | 'delete';
  readonly kind: ActionKind;
  readonly name: string;
  /** What changes, for people: `upstream: http://a → http://b`. */
  readonly changes: readonly string[];
  readonly requests: readonly ApiRequest[];
  /** A secret to create: the runner adds `value` from this secret's source to the request body. */
  readonly secretValueOf?: string;
}

/** A management API path from its segments, each one URL-encoded. */
export function api(...segments: string[]): string {
  return `/api/v1/${segments.map(encodeURIComponent).join('/')}`;
}

/** An action from its parts. */
export function action(
  op: Action['op'],
  kind: ActionKind,
  name: string,
  changes: string[],
  ...requests: ApiRequest[]
): Action {
  return { op, kind, name, changes, requests };
}
