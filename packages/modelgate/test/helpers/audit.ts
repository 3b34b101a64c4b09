import type { StoredAuditRecord } from '../../src/store/audit.js';
import type { TestNode } from './in-process-node.js';

/** An audit record as `GET /api/v1/audit` returns it. */
export type AuditRow = StoredAuditRecord;

/** One `GET /api/v1/audit` as the management key; `query` is the raw query string. */
export async function auditPage(
  t: TestNode,
  query = '',
  token = t.keys.management,
): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(`${t.node.urls.management}/api/v1/audit${query ? `?${query}` : ''}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text), text };
}

/** Every record matching the query, oldest first, following the cursor to the end. */
export async function allAuditRecords(t: TestNode, query = ''): Promise<AuditRow[]> {
  const rows: AuditRow[] = [];
  let page = await auditPage(t, `${query}${query ? '&' : ''}order=asc&limit=1000`);
  for (;;) {
    if (page.status !== 200) throw new Error(`audit query failed: ${page.text}`);
    rows.push(...page.body.records);
    if (page.body.records.length < 1000) return rows;
    page = await auditPage(t, `${query}${query ? '&' : ''}cursor=${page.body.next_cursor}`);
  }
}

/**
 * Waits until the records matching `query` satisfy `done` (the writer flushes in batches, off
 * the request path), then returns them; fails with what was there after `timeoutMs`.
 */
export async function waitForAudit(
  t: TestNode,
  query: string,
  done: (rows: AuditRow[]) => boolean,
  timeoutMs = 10_000,
): Promise<AuditRow[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await allAuditRecords(t, query);
    if (done(rows)) return rows;
    if (Date.now() > deadline) throw new Error(`audit records never matched; got ${JSON.stringify(rows, null, 1)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The records of one request, by the `X-Request-Id` the test sent. */
export async function recordsOf(t: TestNode, requestId: string, count = 1): Promise<AuditRow[]> {
  return waitForAudit(t, '', (rows) => rows.filter((r) => r.request_id === requestId).length >= count).then((rows) =>
    rows.filter((r) => r.request_id === requestId),
  );
}
