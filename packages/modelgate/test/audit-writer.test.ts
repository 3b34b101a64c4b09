import { describe, expect, it } from 'vitest';
import { AuditWriter } from '../src/controlplane/audit/writer.js';
import type { AuditRecord } from '../src/store/audit-record.js';

function record(n: number): AuditRecord {
  return {
    time: new Date(0).toISOString(),
    actor: 'anonymous',
    actor_kind: 'anonymous',
    action: 'deployment.invoke',
    target_kind: 'deployment',
    target_name: `d${n}`,
    outcome: 'denied',
    status: 401,
    code: 'CREDENTIAL_MISSING',
    request_id: `r${n}`,
    client_address: '127.0.0.1',
    listener: 'inference',
  };
}

/** A writer with a manual clock, no timer, and a store that keeps batches (or fails on demand). */
function harness(
  options: { maxQueue?: number; batchSize?: number; refusalsPerSecond?: number; refusalBurst?: number } = {},
) {
  let now = 1_000_000;
  let failing = false;
  const batches: AuditRecord[][] = [];
  const warnings: Record<string, unknown>[] = [];
  const writer = new AuditWriter({
    write: async (records) => {
      if (failing) throw new Error('store down');
      batches.push([...records]);
    },
    log: { warn: (obj: unknown) => void warnings.push(obj as Record<string, unknown>) } as never,
    flushIntervalMs: 0,
    now: () => now,
    ...options,
  });
  return {
    writer,
    batches,
    warnings,
    written: () => batches.flat().map((r) => r.target_name),
    advance: (ms: number) => {
      now += ms;
    },
    fail: (on: boolean) => {
      failing = on;
    },
  };
}

describe('AuditWriter', () => {
  it('writes queued records in batches on flush', async () => {
    const h = harness({ batchSize: 2 });
    for (let i = 0; i < 5; i++) h.writer.record(record(i));
    expect(h.batches).toEqual([]);
    await h.writer.flush();
    expect(h.batches.map((b) => b.length)).toEqual([2, 2, 1]);
    expect(h.written()).toEqual(['d0', 'd1', 'd2', 'd3', 'd4']);
  });

  it('bounds data-plane refusals by a token bucket and counts the rest as dropped', async () => {
    const h = harness({ refusalsPerSecond: 2, refusalBurst: 3 });
    for (let i = 0; i < 10; i++) h.writer.refusal(record(i));
    expect(h.writer.dropped).toBe(7);
    h.advance(1000); // two more tokens
    for (let i = 10; i < 15; i++) h.writer.refusal(record(i));
    expect(h.writer.dropped).toBe(10);
    await h.writer.flush();
    expect(h.written()).toEqual(['d0', 'd1', 'd2', 'd10', 'd11']);
    expect(h.warnings.at(-1)).toMatchObject({ dropped: 10, dropped_total: 10 });
    // Management records are not rate-bounded.
    for (let i = 0; i < 10; i++) h.writer.record(record(100 + i));
    expect(h.writer.dropped).toBe(10);
  });

  it('bounds the queue: records beyond it are dropped and counted, never blocking', async () => {
    const h = harness({ maxQueue: 3 });
    for (let i = 0; i < 5; i++) h.writer.record(record(i));
    expect(h.writer.dropped).toBe(2);
    await h.writer.flush();
    expect(h.written()).toEqual(['d0', 'd1', 'd2']);
  });

  it('keeps a batch the store refused and writes it on a later flush', async () => {
    const h = harness();
    h.writer.record(record(1));
    h.fail(true);
    await h.writer.flush();
    expect(h.batches).toEqual([]);
    expect(h.warnings[0]).toMatchObject({ queued: 1 });
    h.fail(false);
    h.writer.record(record(2));
    await h.writer.flush();
    expect(h.written()).toEqual(['d1', 'd2']);
    expect(h.writer.dropped).toBe(0);
  });

  it('close() writes what is left and drops what comes after', async () => {
    const h = harness();
    h.writer.record(record(1));
    await h.writer.close();
    expect(h.written()).toEqual(['d1']);
    h.writer.record(record(2));
    expect(h.writer.dropped).toBe(1);
  });
});
