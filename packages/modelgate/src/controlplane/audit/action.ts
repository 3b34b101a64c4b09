import { parseCredential, scrubCredentials } from '../../kernel/credential.js';
import { API_PREFIX } from '../api/prefix.js';

/** What a management request did, as the audit log names it. */
export interface DescribedAction {
  /** `deployment.create`, `service.version.delete`, `deployment.redeploy`, `node_key.rotate`, ... */
  readonly action: string;
  /** `deployment`, `service.version`, `group.member`, ... */
  readonly targetKind: string;
  /** Names and ids from the route, `/`-joined for nested targets; undefined when none. */
  readonly targetName: string | undefined;
}

/** A name or id as routes take them; anything else is not copied into the audit log. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$/;
const LONG_HEX = /^[0-9a-f]{32,}$/i;
/** Shown instead of a route parameter that is not a plain name (or looks like a credential). */
export const UNSAFE_NAME = '[invalid]';

const VERBS: Readonly<Record<string, string>> = {
  POST: 'create',
  PUT: 'update',
  PATCH: 'update',
  DELETE: 'delete',
  GET: 'read',
  HEAD: 'read',
};

/** A route whose action the path alone cannot say; its target is named by a query or body field. */
interface SpecialAction {
  readonly action: string;
  /** The field naming the target, and the target's kind, first present wins; then `targetKind`. */
  readonly targetFields: Readonly<Record<string, string>>;
  readonly targetKind: string;
}

/** Routes whose action the path alone cannot say. */
const SPECIAL: Readonly<Record<string, SpecialAction>> = {
  // TorchServe's token API replaces a node key on GET as on POST; `type` names which one.
  '/token': { action: 'node_key.rotate', targetFields: { type: 'node_key' }, targetKind: 'node_key' },
  // Minting a platform JWT, by GET or POST; the target is in the query (Scaleway) or the body.
  [`${API_PREFIX}/issue-jwt`]: {
    action: 'jwt.issue',
    targetFields: { deployment: 'deployment', infrastructure: 'infrastructure' },
    targetKind: 'jwt',
  },
};

/**
 * The values `describeAction` reads for a route: its path parameters, or, for the few routes that
 * name their target in the query or the body, those named fields alone (a body field wins, as the
 * handlers merge them). No other query or body value is ever read.
 *
 * @example
 * ```ts
 * actionParams('/token', {}, { type: 'inference', other: 'x' }, undefined); // { type: 'inference' }
 * ```
 */
export function actionParams(
  pattern: string,
  params: unknown,
  query: unknown,
  body: unknown,
): Readonly<Record<string, unknown>> {
  const special = SPECIAL[pattern];
  if (!special) return (params ?? {}) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const field of Object.keys(special.targetFields)) {
    const value = fieldOf(body, field) ?? fieldOf(query, field);
    if (value !== undefined) out[field] = value;
  }
  return out;
}

function fieldOf(source: unknown, field: string): unknown {
  return typeof source === 'object' && source !== null && Object.hasOwn(source, field)
    ? (source as Record<string, unknown>)[field]
    : undefined;
}

/**
 * A name for the audit log, or `[invalid]`: only plain names and ids are kept, and never a
 * string shaped like a modelgate credential (a key pasted where an id belongs).
 *
 * @example
 * ```ts
 * safeName('sentiment'); // 'sentiment'
 * safeName('mgk_...');   // '[invalid]'
 * ```
 */
export function safeName(value: unknown): string {
  if (typeof value !== 'string' || !SAFE_NAME.test(value)) return UNSAFE_NAME;
  if (parseCredential(value) !== undefined || scrubCredentials(value) !== value) return UNSAFE_NAME;
  // A hash or a long hex token pasted as a name is no name we made.
  if (LONG_HEX.test(value)) return UNSAFE_NAME;
  return value;
}

/**
 * Names the action of a management request from its method and route pattern (never the URL
 * as sent): collections are singular kinds, the segments between them are the target's names,
 * and a last singular word after a name is the verb (`/deployments/:name/redeploy`).
 *
 * @param params the route parameters, copied through {@link safeName}
 * @param createdName for a successful create, the new resource's name (checked the same way)
 *
 * @example
 * ```ts
 * describeAction('POST', '/api/v1/services/:name/versions', { name: 'sentiment' }, '1.0');
 * // { action: 'service.version.create', targetKind: 'service.version', targetName: 'sentiment/1.0' }
 * ```
 */
export function describeAction(
  method: string,
  pattern: string,
  params: Readonly<Record<string, unknown>>,
  createdName?: string,
): DescribedAction {
  const special = SPECIAL[pattern];
  if (special) {
    // An empty value names nothing (as the handlers read it).
    const field = Object.keys(special.targetFields).find((f) => params[f] !== undefined && params[f] !== '');
    return {
      action: special.action,
      targetKind: field === undefined ? special.targetKind : (special.targetFields[field] ?? special.targetKind),
      targetName: field === undefined ? undefined : safeName(params[field]),
    };
  }
  const path = pattern.startsWith(`${API_PREFIX}/`) ? pattern.slice(API_PREFIX.length) : pattern;
  const segments = path.split('/').filter((s) => s !== '');
  const kinds: string[] = [];
  const names: string[] = [];
  let verb: string | undefined;
  let endsOnItem = false;
  for (const [i, segment] of segments.entries()) {
    const value = segment.startsWith(':') ? safeName(params[segment.slice(1)]) : safeName(segment);
    if (kinds.length > 0 && !endsOnItem) {
      // After a collection comes an item: a parameter, or a fixed one such as `sessions/current`.
      names.push(value);
      endsOnItem = true;
    } else if (segment.startsWith(':')) {
      names.push(value);
    } else if (endsOnItem && i === segments.length - 1 && !segment.endsWith('s')) {
      verb = segment.replaceAll('-', '_');
    } else {
      kinds.push(singular(segment));
      endsOnItem = false;
    }
  }
  const upper = method.toUpperCase();
  if (verb === undefined) {
    if (upper === 'GET' || upper === 'HEAD') verb = endsOnItem ? 'read' : 'list';
    else verb = VERBS[upper] ?? upper.toLowerCase();
  }
  if (!endsOnItem && verb === 'create' && createdName !== undefined) names.push(safeName(createdName));
  const targetKind = kinds.length > 0 ? kinds.join('.') : 'node';
  return { action: `${targetKind}.${verb}`, targetKind, targetName: names.length > 0 ? names.join('/') : undefined };
}

/** `api-keys` → `api_key`, `infrastructures` → `infrastructure`. */
function singular(segment: string): string {
  const word = segment.replaceAll('-', '_');
  return word.endsWith('s') ? word.slice(0, -1) : word;
}
