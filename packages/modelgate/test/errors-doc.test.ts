import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode } from '../src/kernel/errors.js';

const DOC = resolve(import.meta.dirname, '../../../docs/errors.md');

interface DocRow {
  code: string;
  status: string;
  meaning: string;
  action: string;
}

/** The rows of the codes table: `| \`CODE\` | HTTP 404 | meaning | what to do |`. */
function documentedRows(): DocRow[] {
  const rows: DocRow[] = [];
  for (const line of readFileSync(DOC, 'utf8').split('\n')) {
    const cells = line
      .trim()
      .match(/^\|(.*)\|$/)?.[1]
      ?.split('|')
      .map((c) => c.trim());
    const code = cells?.[0]?.match(/^`([A-Z][A-Z0-9_]*)`$/)?.[1];
    if (!cells || !code) continue;
    rows.push({ code, status: cells[1] ?? '', meaning: cells[2] ?? '', action: cells[3] ?? '' });
  }
  return rows;
}

function expectedStatus(code: ErrorCode): string {
  const entry: { status: number; exitCode?: number } = ERROR_CODES[code];
  return entry.exitCode !== undefined ? `exit ${entry.exitCode}` : `HTTP ${entry.status}`;
}

describe('docs/errors.md documents the error registry', () => {
  const rows = documentedRows();
  const registry = Object.keys(ERROR_CODES) as ErrorCode[];

  it('lists every registry code', () => {
    const documented = new Set(rows.map((r) => r.code));
    expect(registry.filter((code) => !documented.has(code))).toEqual([]);
  });

  it('lists no code the registry lacks, and each code once', () => {
    const known = new Set<string>(registry);
    expect(rows.map((r) => r.code).filter((code) => !known.has(code))).toEqual([]);
    expect(rows.length).toBe(new Set(rows.map((r) => r.code)).size);
  });

  it.each(registry)('%s: status, meaning and what to do', (code) => {
    const row = rows.find((r) => r.code === code);
    expect(row, `${code} is missing from docs/errors.md`).toBeDefined();
    expect(row?.status).toBe(expectedStatus(code));
    expect(row?.meaning.length).toBeGreaterThan(10);
    expect(row?.action.length).toBeGreaterThan(10);
  });
});
