import type { FastifyInstance } from 'fastify';
import { loadActor } from '../../access/actor.js';
import { denialOf } from '../../access/authorize.js';
import { decide } from '../../access/permissions.js';
import { decodeCursor, encodeCursor } from '../../audit/cursor.js';
import { ModelgateError } from '../../errors/registry.js';
import { type AuditFilter, type AuditPosition, queryAuditRecords } from '../../store/audit.js';
import type { Store } from '../../store/database.js';
import { API_PREFIX } from '../prefix.js';

export const AUDIT_PAGE_DEFAULT = 100;
export const AUDIT_PAGE_MAX = 1000;

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
  type: 'object',
  properties: {
    id: { type: 'integer' },
    time: { type: 'string' },
    actor: { type: 'string' },
    actor_kind: { type: 'string' },
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

/** `GET /api/v1/audit`: the audit log, filtered, in pages (admins only). */
export async function auditRoutes(app: FastifyInstance, opts: { store: Store }): Promise<void> {
  app.get<{ Querystring: AuditQuery }>(
    `${API_PREFIX}/audit`,
    {
      schema: {
        tags: ['audit'],
        summary: 'Read the audit log (admins only)',
        description:
          'Records of every management change, every refused management attempt, every admin-key CLI ' +
          'command and (rate-bounded) data-plane refusals. Newest first unless `order=asc`; pass `next` ' +
          'back as `cursor` with the same filters for the following page. In ascending order `next` is ' +
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
            limit: {
              type: 'string',
              pattern: '^[0-9]{1,4}$',
              description: `1-${AUDIT_PAGE_MAX}, default ${AUDIT_PAGE_DEFAULT}`,
            },
            order: { type: 'string', enum: ['asc', 'desc'], description: 'Default `desc` (newest first)' },
            cursor: { type: 'string', minLength: 1, maxLength: 256, description: '`next` of the previous page' },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              records: { type: 'array', items: recordSchema },
              next: { type: ['string', 'null'], description: 'Cursor of the following page, null when none' },
            },
          },
        },
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
      if (last && records.length === limit) next = encodeCursor({ order: position.order, after: last.id });
      else if (position.order === 'asc') {
        // Ascending pages always carry a cursor, so a follower resumes after what it has seen.
        next = encodeCursor({ order: 'asc', after: last?.id ?? position.after ?? 0 });
      }
      return { records, next };
    },
  );
}

/** Turns the query string into a filter, a position and a page size, or throws VALIDATION_FAILED. */
export function parseAuditQuery(query: AuditQuery): { filter: AuditFilter; position: AuditPosition; limit: number } {
  const problems: string[] = [];
  const time = (field: 'since' | 'until') => {
    const value = query[field];
    if (value === undefined) return undefined;
    const ms = /^\d{4}-\d{2}-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value) ? Date.parse(value) : Number.NaN;
    if (Number.isNaN(ms)) {
      problems.push(`${field} must be an ISO-8601 time such as 2026-01-31T12:00:00Z`);
      return undefined;
    }
    return new Date(ms).toISOString();
  };
  const since = time('since');
  const until = time('until');
  const limit = query.limit === undefined ? AUDIT_PAGE_DEFAULT : Number(query.limit);
  if (!(limit >= 1 && limit <= AUDIT_PAGE_MAX)) problems.push(`limit must be between 1 and ${AUDIT_PAGE_MAX}`);
  if (problems.length > 0) throw new ModelgateError('VALIDATION_FAILED', problems.join('; '), { details: problems });
  const position: AuditPosition =
    query.cursor !== undefined ? decodeCursor(query.cursor) : { order: query.order ?? 'desc' };
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
