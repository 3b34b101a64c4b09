import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS, CONFIG_SCHEMA, type ConfigKey, envName, flagName } from '../src/config/schema.js';

const README = resolve(import.meta.dirname, '../../../README.md');
const SCRIPT = resolve(import.meta.dirname, '../scripts/config-table.mjs');
const HEADER = ['Key', 'CLI flag', 'Environment variable', 'Default', 'Description'];

interface Row {
  key: string;
  flags: string[];
  env: string;
  default: string;
  description: string;
}

/** Splits a markdown table row, honouring `\|` escapes. */
function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\||\|$/g, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim().replaceAll('\\|', '|'));
}

function unquote(cell: string): string {
  return cell.replace(/^`(.*)`$/, '$1');
}

/** The table under "### Configuration reference" in the README. */
function readmeTable(): { header: string[]; rows: Row[] } {
  const lines = readFileSync(README, 'utf8').split('\n');
  const start = lines.findIndex((l) => /^#{2,3} Configuration reference\s*$/.test(l));
  expect(start, 'README has a "Configuration reference" heading').toBeGreaterThanOrEqual(0);
  const first = lines.findIndex((l, i) => i > start && l.trim().startsWith('|'));
  const table: string[] = [];
  for (let i = first; i < lines.length && lines[i]?.trim().startsWith('|'); i++) table.push(lines[i] ?? '');
  const [head, rule, ...body] = table;
  expect(rule).toMatch(/^\|(\s*:?-+:?\s*\|)+$/);
  return {
    header: cells(head ?? ''),
    rows: body.map((line) => {
      const [key, flags, env, def, description] = cells(line);
      return {
        key: unquote(key ?? ''),
        flags: (flags ?? '').split(',').map((f) => unquote(f.trim())),
        env: unquote(env ?? ''),
        default: def ?? '',
        description: description ?? '',
      };
    }),
  };
}

/** Reads a Default cell back into a value: `(empty)` is the empty string. */
function parseDefault(cell: string, key: ConfigKey): string | number | boolean {
  if (cell === '(empty)') return '';
  const text = unquote(cell);
  switch (CONFIG_SCHEMA[key].type) {
    case 'number':
      return Number(text);
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : text;
    default:
      return text;
  }
}

describe('README configuration reference', () => {
  const { header, rows } = readmeTable();

  it('has the columns key, CLI flag, env var, default, description', () => {
    expect(header).toEqual(HEADER);
  });

  it('lists every schema key once, in schema order, and nothing else', () => {
    expect(rows.map((r) => r.key)).toEqual(CONFIG_KEYS);
  });

  it.each(CONFIG_KEYS)('%s: flag, env var, actual default and a description', (key) => {
    const row = rows.find((r) => r.key === key);
    expect(row, `${key} is missing from the README`).toBeDefined();
    if (!row) return;
    const spec: { flagAliases?: readonly string[]; description: string; default: unknown } = CONFIG_SCHEMA[key];
    expect(row.flags).toEqual([`--${flagName(key)}`, ...(spec.flagAliases ?? []).map((a) => `--${a}`)]);
    expect(row.env).toBe(envName(key));
    expect(parseDefault(row.default, key)).toStrictEqual(spec.default);
    expect(row.description.startsWith(spec.description)).toBe(true);
  });

  it('is exactly what scripts/config-table.mjs prints (regenerate with --write README.md)', () => {
    const printed = execFileSync(process.execPath, [SCRIPT], { encoding: 'utf8' }).trimEnd();
    expect(readFileSync(README, 'utf8')).toContain(printed);
  });

  it('states the precedence and the enable_envvars_config rule', () => {
    const text = readFileSync(README, 'utf8');
    expect(text).toContain('environment > command line > config file > default');
    expect(text).toMatch(/only when\s+`enable_envvars_config` is true/);
    expect(text).toContain('--config PATH');
    expect(text).toContain('./modelgate.yaml');
  });
});
