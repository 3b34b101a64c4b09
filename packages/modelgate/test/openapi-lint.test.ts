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
/** The locally installed Redocly CLI (a devDependency), run with this Node. */
const redocly = join(dirname(createRequire(import.meta.url).resolve('@redocly/cli/package.json')), 'bin', 'cli.js');

interface LintReport {
  totals: { errors: number; warnings: number };
  problems: { ruleId: string; severity: string; message: string; location: { pointer: string }[] }[];
}

let t: TestNode;
let doc: any;
beforeAll(async () => {
  t = await startTestNode();
  doc = (await call(`${t.node.urls.management}/api/v1/openapi.json`)).json;
});
afterAll(async () => {
  await t?.close();
});

/** Every operation of the document, with its method and path. */
function operations(): { method: string; path: string; op: any }[] {
  return Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ method, path, op })),
  );
}

describe('the OpenAPI document', () => {
  it('passes `redocly lint` (recommended rules, operationIds and 4xx required) with no error and no warning', async () => {
    const file = join(t.dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(doc, null, 2));
    const result = await run(process.execPath, [redocly, 'lint', '--format=json', '--config=redocly.yaml', file], {
      cwd: packageDir,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
      maxBuffer: 16 * 1024 * 1024,
    }).catch((err: { code: number; stdout: string; stderr: string }) => err);
    const report = JSON.parse(result.stdout) as LintReport;
    const problems = report.problems.map((p) => `${p.severity} ${p.ruleId} ${p.location[0]?.pointer}: ${p.message}`);
    expect(problems).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
    expect('code' in result ? result.code : 0).toBe(0);
  });

  it('every operation has a unique camelCase operationId and a summary', () => {
    const ops = operations();
    expect(ops.length).toBeGreaterThan(50);
    const ids = ops.map(({ op }) => op.operationId);
    for (const { method, path, op } of ops) {
      expect(op.operationId, `${method} ${path}`).toMatch(/^[a-z][A-Za-z0-9]*$/);
      expect(op.summary, `${method} ${path}`).toEqual(expect.any(String));
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('request and response bodies are components; every 4xx is the error envelope', () => {
    const schemas = doc.components.schemas;
    expect(Object.keys(schemas)).toEqual(expect.arrayContaining(['Error', 'Deployment', 'DeploymentList']));
    expect(schemas.Error.properties.error.required).toEqual(['code', 'message', 'request_id']);
    for (const { method, path, op } of operations()) {
      const body = op.requestBody?.content?.['application/json']?.schema;
      if (body) expect(body.$ref, `${method} ${path} body`).toMatch(/^#\/components\/schemas\//);
      for (const [status, response] of Object.entries(op.responses as Record<string, any>)) {
        const schema = response.content?.['application/json']?.schema;
        if (status.startsWith('4'))
          expect(schema, `${method} ${path} ${status}`).toEqual({ $ref: '#/components/schemas/Error' });
        else if (schema) expect(schema.$ref, `${method} ${path} ${status}`).toMatch(/^#\/components\/schemas\//);
      }
      if (op.security?.length !== 0) {
        expect(Object.keys(op.responses), `${method} ${path}`).toEqual(expect.arrayContaining(['401', '403', '429']));
      }
    }
  });

  it('says that lists page: limit and cursor in, next_cursor out', () => {
    for (const path of ['/api/v1/deployments', '/api/v1/api-keys', '/api/v1/users', '/api/v1/audit']) {
      const op = doc.paths[path].get;
      expect(
        op.parameters.map((p: any) => p.name),
        path,
      ).toEqual(expect.arrayContaining(['limit', 'cursor']));
      const ref = op.responses['200'].content['application/json'].schema.$ref.split('/').at(-1);
      expect(doc.components.schemas[ref].properties.next_cursor, path).toBeDefined();
    }
  });

  it('declares the bearer and session cookie security schemes', () => {
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.securitySchemes.session).toMatchObject({
      type: 'apiKey',
      in: 'cookie',
      name: 'modelgate_session',
    });
    expect(doc.security).toEqual([{ bearer: [] }, { session: [] }]);
    expect(doc.paths['/api/v1/sessions'].post.security).toEqual([]);
  });
});
