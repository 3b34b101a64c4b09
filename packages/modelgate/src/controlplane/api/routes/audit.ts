import type { FastifyInstance } from 'fastify';
import { decide } from '../../../kernel/permissions.js';
import { Problems } from '../../../kernel/validation.js';
import { loadActor } from '../../../store/actor.js';
import { type AuditFilter, type AuditPosition, queryAuditRecords, withActorNames } from '../../../store/audit.js';
import type { Store } from '../../../store/database.js';
import { denialOf } from '../../access/authorize.js';
import { decodeCursor, encodeCursor, invalidCursor } from '../cursor.js';
import { pageLimit, pageQueryProperties } from '../paging.js';
import { API_PREFIX } from '../prefix.js';
import { ref } from '../schemas.js';

interface AuditQuery {
  actor?: string;
  action?: string;
  target?: string;
  target_kind?: string;
  outcome?: 'allowed' | 'denied' | 'failed';
  listener?: 'management' | 'inference' | 'cli';
  since?: string;
  until?: string;
  limit?: string;
  order?: 'asc' | 'desc';
  cursor?: string;
}

const text = (description: string) => ({ type: 'string', minLength: 1, maxLength: 256, description }) as const;

const recordSchema = {
  $id: 'AuditRecord',
  type: 'object',
  required: ['id', 'time', 'actor', 'action', 'outcome', 'status'],
  properties: {
    id: { type: 'integer' },
    time: { type: 'string' },
    actor: { type: 'string' },
    actor_kind: { type: 'string' },
    actor_name: {
      type: ['string', 'null'],
      description:
        "The actor's name now, beside its id: a username, an API token's `name (owner)`, an admin key's description",
    },
    action: { type: 'string' },
    target_kind: { type: 'string' },
    target_name: { type: ['string', 'null'] },
    outcome: { type: 'string', enum: ['allowed', 'denied', 'failed'] },
    status: { type: 'integer' },
    code: { type: ['string', 'null'] },
    request_id: { type: ['string', 'null'] },
    client_address: { type: ['string', 'null'] },
    listener: { type: 'string', enum: ['management', 'inference', 'cli'] },
  },
} as const;

const auditPageSchema = {
  $id: 'AuditPage',
  type: 'object',
  required: ['records', 'next_cursor'],
  properties: {
    records: { type: 'array', items: ref('AuditRecord') },
    next_cursor: {
      type: ['string', 'null'],
      description:
        'Pass as `cursor` (same filters) for the following page; null after the last one, except in ascending order',
    },
    next: { type: ['string', 'null'], deprecated: true, description: 'The same as `next_cursor` (older clients)' },
  },
} as const;

/** The audit log's shared schemas (components of the OpenAPI document). */
export const AUDIT_SCHEMAS = [recordSchema, auditPageSchema];

/** `GET /api/v1/audit`: the audit log, filtered, in pages (admins only). */
export async function auditRoutes(app: FastifyInstance, opts: { store: Store }): Promise<void> {
  app.get<{ Querystring: AuditQuery }>(
    `${API_PREFIX}/audit`,
    {
      schema: {
        tags: ['audit'],
        operationId: 'listAuditRecords',
        summary: 'Read the audit log (admins only)',
        description:
          'Records of every management change, every refused management attempt, every admin-key CLI ' +
          'command and (rate-bounded) data-plane refusals. Newest first unless `order=asc`; pass `next_cursor` ' +
          'back as `cursor` with the same filters for the following page. In ascending order `next_cursor` is ' +
          'always returned, so polling with it follows the log.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            actor: text('Principal id (`node:management`, an admin key id, ...)'),
            action: text('Action, exact, or a prefix ending in `*` (`deployment.*`)'),
            target: text('Target name (`sentiment`, `sentiment/1.0`)'),
            target_kind: text('Target kind (`deployment`, `service.version`, ...)'),
            outcome: { type: 'string', enum: ['allowed', 'denied', 'failed'] },
            listener: { type: 'string', enum: ['management', 'inference', 'cli'] },
            since: text('ISO-8601 time, inclusive'),
            until: text('ISO-8601 time, exclusive'),
            order: { type: 'string', enum: ['asc', 'desc'], description: 'Default `desc` (newest first)' },
            ...pageQueryProperties,
          },
        },
        response: { 200: ref('AuditPage') },
      },
    },
    async (req) => {
      // Global admins only: node and admin keys, and users with the `admin` privilege.
      const decision = decide(await loadActor(opts.store, req.principal), { global: 'admin' });
      if (!decision.allowed) throw denialOf(decision);
      const { filter, position, limit } = parseAuditQuery(req.query);
      const records = await queryAuditRecords(opts.store, filter, position, limit);
      const last = records.at(-1);
      let next: string | null = null;
      if (last && records.length === limit)
        next = encodeCursor({ list: 'audit', order: position.order, after: last.id });
      else if (position.order === 'asc') {
        // Ascending pages always carry a cursor, so a follower resumes after what it has seen.
        next = encodeCursor({ list: 'audit', order: 'asc', after: last?.id ?? position.after ?? 0 });
      }
      return { records: await withActorNames(opts.store, records), next_cursor: next, next };
    },
  );
}

/** Turns the query string into a filter, a position and a page size, or throws VALIDATION_FAILED. */
export function parseAuditQuery(query: AuditQuery): { filter: AuditFilter; position: AuditPosition; limit: number } {
  const problems = new Problems();
  const time = (field: 'since' | 'until') => {
    const value = query[field];
    if (value === undefined) return undefined;
    const ms = /^\d{4}-\d{2}-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value) ? Date.parse(value) : Number.NaN;
    problems.check(!Number.isNaN(ms), `${field} must be an ISO-8601 time such as 2026-01-31T12:00:00Z`, field);
    return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
  };
  const since = time('since');
  const until = time('until');
  problems.throwIfAny();
  const limit = pageLimit(query.limit);
  const position: AuditPosition =
    query.cursor !== undefined ? auditPosition(query.cursor) : { order: query.order ?? 'desc' };
  const filter: AuditFilter = {
    ...(query.actor !== undefined ? { actor: query.actor } : {}),
    ...(query.action !== undefined ? { action: query.action } : {}),
    ...(query.target !== undefined ? { target: query.target } : {}),
    ...(query.target_kind !== undefined ? { targetKind: query.target_kind } : {}),
    ...(query.outcome !== undefined ? { outcome: query.outcome } : {}),
    ...(query.listener !== undefined ? { listener: query.listener } : {}),
    ...(since !== undefined ? { since } : {}),
    ...(until !== undefined ? { until } : {}),
  };
  return { filter, position, limit };
}

/** An audit cursor's position: the id it follows, in its order. */
function auditPosition(cursor: string): AuditPosition {
  const { after, order } = decodeCursor('audit', cursor);
  if (typeof after !== 'number') throw invalidCursor();
  return { order, after };
}
