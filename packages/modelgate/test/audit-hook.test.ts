import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installAuditLog } from '../src/controlplane/api/audit-log.js';
import { sendError } from '../src/controlplane/api/errors.js';
import type { AuditWriter } from '../src/controlplane/audit/writer.js';
import type { Principal } from '../src/kernel/principal.js';
import type { AuditRecord } from '../src/store/audit-record.js';

/**
 * The management hook on its own, behind a real socket, with routes shaped like the ones the
 * permission model will add: a 404 that hides a target is a denial on reads and writes alike.
 */
describe('the management audit hook', () => {
  let app: FastifyInstance;
  let base: string;
  const records: AuditRecord[] = [];

  beforeAll(async () => {
    app = Fastify();
    app.decorateRequest<Principal>('principal', null as unknown as Principal);
    app.addHook('onRequest', async (req) => {
      req.principal = { kind: 'admin_key', id: 'ak_test' };
    });
    installAuditLog(app, {
      record: (r: AuditRecord) => void records.push(r),
      // A change with no transaction (none here) is written before the answer.
      commit: async (r: AuditRecord) => void records.push(r),
    } as unknown as AuditWriter);
    app.decorateRequest('errorCode', null);
    // A route that answers its 404 itself, as the API's error answers all go out: through sendError.
    const hide = async (req: FastifyRequest, reply: FastifyReply) => {
      req.auditHidden = true;
      return sendError(req, reply, 404, 'RESOURCE_NOT_FOUND');
    };
    app.get('/api/v1/things/:name', async (req, reply) =>
      (req.params as { name: string }).name === 'hidden' ? hide(req, reply) : { ok: true },
    );
    app.delete('/api/v1/things/:name', async (req, reply) => hide(req, reply));
    app.post('/api/v1/things', async (_req, reply) => reply.code(201).send({ ok: true }));
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('records a hidden 404 as denied on any method, and leaves plain reads out', async () => {
    expect((await fetch(`${base}/api/v1/things/hidden`)).status).toBe(404);
    expect((await fetch(`${base}/api/v1/things/visible`)).status).toBe(200);
    expect((await fetch(`${base}/api/v1/things/secret-plan`, { method: 'DELETE' })).status).toBe(404);
    const created = await fetch(`${base}/api/v1/things`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'widget', value: 'not-recorded-value' }),
    });
    expect(created.status).toBe(201);
    // onResponse runs after the answer went out.
    for (let i = 0; i < 100 && records.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    expect(records.map((r) => [r.action, r.target_name, r.outcome, r.status, r.code, r.actor])).toEqual([
      ['thing.read', 'hidden', 'denied', 404, 'RESOURCE_NOT_FOUND', 'ak_test'],
      ['thing.delete', 'secret-plan', 'denied', 404, 'RESOURCE_NOT_FOUND', 'ak_test'],
      ['thing.create', 'widget', 'allowed', 201, null, 'ak_test'],
    ]);
    expect(JSON.stringify(records)).not.toContain('not-recorded-value');
  });
});
