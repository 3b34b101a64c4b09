import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from './helpers/http.js';
import { startTestNode, type TestNode } from './helpers/in-process-node.js';

const run = promisify(execFile);
const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const redocly = join(dirname(createRequire(import.meta.url).resolve('@redocly/cli/package.json')), 'bin', 'cli.js');

let t: TestNode;
beforeAll(async () => {
  t = await startTestNode();
});
afterAll(async () => {
  await t?.close();
});

describe('the OpenAPI document', () => {
  it('passes `redocly lint` with the recommended rules and zero errors', async () => {
    const doc = (await call(`${t.node.urls.management}/api/v1/openapi.json`)).json;
    const file = join(t.dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(doc, null, 2));
    const result = await run(process.execPath, [redocly, 'lint', '--format=json', file], {
      cwd: packageDir,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
      maxBuffer: 16 * 1024 * 1024,
    }).catch((err: { code: number; stdout: string; stderr: string }) => err);
    writeFileSync('/tmp/oa/lint.json', result.stdout);
    writeFileSync('/tmp/oa/openapi.json', JSON.stringify(doc, null, 2));
    const report = JSON.parse(result.stdout) as { totals: { errors: number; warnings: number } };
    expect(report.totals.errors, result.stdout).toBe(0);
    expect('code' in result ? result.code : 0).toBe(0);
  });
});
