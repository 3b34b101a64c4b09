import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from 'modelgate';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { GENERATED_FILES, generate, PACKAGE_ROOT, renderOpenApiTypes } from '../scripts/generate.mjs';
import type {
  CreateDeploymentInput,
  CreatedToken,
  CreateTokenInput,
  Deployment,
  DeploymentList,
  MethodsOf,
  RequestBody,
  ResponseBody,
  TokenInfo,
  TokenList,
  WhoAmI,
} from '../src/api-types.js';
import { ERROR_STATUS, type ErrorCode } from '../src/index.js';

const HOW_TO_FIX = 'run `npm run build && npm run generate -w @modelgate/client` and commit the result';

describe('generated types', () => {
  it('match what the server documents today (fails when the API and the SDK drift)', async () => {
    const fresh = await generate();
    for (const [path, text] of Object.entries(fresh)) {
      const committed = readFileSync(join(PACKAGE_ROOT, path), 'utf8');
      expect(committed, `${path} is stale: ${HOW_TO_FIX}`).toBe(text);
    }
    expect(Object.keys(fresh).sort()).toEqual(Object.values(GENERATED_FILES).sort());
  });

  it('see a change of the document (the comparison is not vacuous)', async () => {
    const committed = readFileSync(join(PACKAGE_ROOT, GENERATED_FILES.openapi), 'utf8');
    const changed = await renderOpenApiTypes({
      openapi: '3.1.0',
      info: { title: 't', version: '1' },
      paths: {
        '/api/v1/whoami': {
          get: {
            responses: {
              200: { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } },
            },
          },
        },
      },
    });
    expect(changed).not.toBe(committed);
  });

  it('know every error code of the server registry, with its status', () => {
    expect(ERROR_STATUS).toEqual(Object.fromEntries(Object.entries(ERROR_CODES).map(([k, v]) => [k, v.status])));
  });

  it('type the SDK from the document', () => {
    // Compile-time checks (tsc -p tsconfig.test.json runs before vitest): a drift breaks the build.
    expectTypeOf<Deployment>().toHaveProperty('upstream');
    expectTypeOf<Deployment['access']>().toEqualTypeOf<'public' | 'protected'>();
    expectTypeOf<DeploymentList>().toHaveProperty('deployments');
    expectTypeOf<CreateDeploymentInput>().toHaveProperty('name').toEqualTypeOf<string>();
    expectTypeOf<WhoAmI['kind']>().toExtend<string>();
    expectTypeOf<MethodsOf<'/api/v1/deployments/{name}'>>().toEqualTypeOf<'get' | 'patch' | 'delete'>();
    expectTypeOf<RequestBody<'/api/v1/deployments/{name}', 'get'>>().toBeNever();
    expectTypeOf<ResponseBody<'/api/v1/whoami', 'get'>>().toEqualTypeOf<WhoAmI>();
    expectTypeOf<CreateTokenInput>().toHaveProperty('ops_access');
    expectTypeOf<CreatedToken>().toHaveProperty('token');
    expectTypeOf<TokenList['next_cursor']>().toEqualTypeOf<string | null>();
    expectTypeOf<TokenList['tokens'][number]>().toEqualTypeOf<TokenInfo>();
    expectTypeOf<TokenInfo>().not.toHaveProperty('hash');
    expectTypeOf<'DEPLOYMENT_NOT_FOUND'>().toExtend<ErrorCode>();
    expectTypeOf<'HTTP_ERROR'>().not.toExtend<ErrorCode>();
  });
});
