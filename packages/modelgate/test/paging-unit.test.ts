import { describe, expect, it } from 'vitest';
import { readAllPages } from '../src/cli/list-all.js';
import { RouteMethods } from '../src/controlplane/api/method-not-allowed.js';
import { pageOf } from '../src/controlplane/api/paging.js';
import { validationProblems } from '../src/controlplane/api/validation-problems.js';
import type { ModelgateError } from '../src/kernel/errors.js';
import { Problems } from '../src/kernel/validation.js';

describe('pageOf', () => {
  const names = Array.from({ length: 23 }, (_, i) => ({ name: `n-${String(i).padStart(2, '0')}` }));

  it('walks every item once, in key order, with a null cursor after the last page only', () => {
    const shuffled = [...names].reverse();
    const seen: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = pageOf('things', shuffled, (x) => x.name, { limit: '5', ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((x) => x.name));
      if (page.next_cursor === null) break;
      cursor = page.next_cursor;
    }
    expect(seen).toEqual(names.map((x) => x.name));
    // Exactly as many items as the limit: no empty trailing page.
    expect(pageOf('things', names.slice(0, 5), (x) => x.name, { limit: '5' }).next_cursor).toBeNull();
  });

  it('refuses a cursor of another list and a limit out of bounds, naming the field', () => {
    const cursor = pageOf('things', names, (x) => x.name, { limit: '1' }).next_cursor!;
    expect(() => pageOf('others', names, (x) => x.name, { cursor })).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED', field: 'cursor' }),
    );
    for (const limit of ['0', '1001', '1.5']) {
      expect(() => pageOf('things', names, (x) => x.name, { limit })).toThrow(
        expect.objectContaining({ field: 'limit' }),
      );
    }
  });
});

describe('listAll', () => {
  it('follows next_cursor to the end and returns one body without a cursor', async () => {
    const asked: string[] = [];
    const client = {
      async request<T>(_method: 'GET', path: string): Promise<T> {
        asked.push(path);
        const page = Number(new URL(path, 'http://x').searchParams.get('cursor') ?? 0);
        const body = {
          owner: 'carol',
          grants: [page * 2, page * 2 + 1],
          next_cursor: page < 2 ? String(page + 1) : null,
        };
        return body as T;
      },
    };
    const all = await readAllPages<{ owner: string; grants: number[] }>(client, '/api/v1/x/grants?a=b', 'grants');
    expect(all).toEqual({ owner: 'carol', grants: [0, 1, 2, 3, 4, 5] });
    expect(asked).toEqual(['/api/v1/x/grants?a=b', '/api/v1/x/grants?a=b&cursor=1', '/api/v1/x/grants?a=b&cursor=2']);
  });
});

describe('validation problems', () => {
  const at = (keyword: string, instancePath: string, params: Record<string, unknown> = {}, message?: string) => ({
    keyword,
    instancePath,
    schemaPath: '',
    params,
    ...(message ? { message } : {}),
  });

  it('name the field for a missing, an extra, a mistyped and a malformed one', () => {
    expect(
      validationProblems('body', [
        at('required', '', { missingProperty: 'upstream' }),
        at('additionalProperties', '/auth', { additionalProperty: 'colour' }),
        at('type', '/groups/0', {}, 'must be string'),
        at('pattern', '', {}, 'must match pattern "^x$"'),
      ]),
    ).toEqual([
      { field: 'upstream', text: 'body.upstream is required' },
      { field: 'auth.colour', text: 'body.auth.colour is not allowed here' },
      { field: 'groups[0]', text: 'body.groups[0] must be string' },
      { field: '', text: 'body must match pattern "^x$"' },
    ]);
    expect(validationProblems('querystring', [at('pattern', '/limit', {}, 'must match pattern "^[0-9]+$"')])).toEqual([
      { field: 'limit', text: 'query.limit must match pattern "^[0-9]+$"' },
    ]);
  });

  it('carry the field of a handler problem as data: the first problem’s, none when it names none', () => {
    const thrown = (problems: Problems) => {
      try {
        problems.throwIfAny();
      } catch (err) {
        return err as ModelgateError;
      }
      throw new Error('no problem was thrown');
    };
    const two = new Problems()
      .check(true, 'count must be 1 to 100', 'count')
      .check(false, 'upstream must be an http:// or https:// URL', 'upstream')
      .check(false, 'auth.oidc.issuer must be an http(s) URL', 'auth.oidc.issuer');
    const error = thrown(two);
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.field).toBe('upstream');
    expect(error.details).toEqual([
      'upstream must be an http:// or https:// URL',
      'auth.oidc.issuer must be an http(s) URL',
    ]);
    expect(thrown(new Problems().check(false, 'give either deployment or infrastructure')).field).toBeUndefined();
    expect(() => new Problems().check(true, 'never', 'x').throwIfAny()).not.toThrow();
  });
});

describe('RouteMethods', () => {
  it('lists the methods of every pattern a path matches, and none for an unknown path', () => {
    const routes = new RouteMethods();
    routes.add(['GET', 'HEAD'], '/api/v1/deployments/:name');
    routes.add('POST', '/api/v1/deployments/:name/redeploy');
    routes.add('DELETE', '/api/v1/deployments/:name');
    expect(routes.allowed('/api/v1/deployments/a?x=1')).toEqual(['DELETE', 'GET', 'HEAD']);
    expect(routes.allowed('/api/v1/deployments/a/redeploy')).toEqual(['POST']);
    expect(routes.allowed('/api/v1/deployments/a/b')).toEqual([]);
    expect(routes.allowed('/api/v1/deployments.x')).toEqual([]);
  });
});
