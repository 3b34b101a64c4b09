import { describe, expect, it } from 'vitest';
import { Client, type FetchLike, type ModelgateApiError } from '../src/index.js';
import { rejectionOf } from './helpers/rejection.js';

const TOKEN = 'mgt_SecretValue0123456789abcdefXYZ';

interface Seen {
  readonly url: string;
  readonly init: RequestInit;
  readonly headers: Record<string, string>;
}

/** A fetch that records each call and answers with `answer`. */
function recordingFetch(answer: () => Response = () => Response.json({ ok: true })): {
  fetch: FetchLike;
  calls: Seen[];
} {
  const calls: Seen[] = [];
  return {
    calls,
    fetch: async (url, init) => {
      calls.push({ url, init, headers: Object.fromEntries(new Headers(init.headers).entries()) });
      return answer();
    },
  };
}

describe('Client options', () => {
  it.each([
    ['not a url', 'not a URL'],
    ['ftp://example.com', 'http:// or https://'],
    ['http://user:pw@example.com', 'username or password'],
    ['http://example.com/?token=x', 'query'],
  ])('refuses the endpoint %j', (endpoint, message) => {
    expect(() => new Client(endpoint)).toThrow(message);
  });

  it('refuses a token a header cannot carry, without quoting it', () => {
    for (const token of [`${TOKEN}\r\nX-Evil: 1`, `${TOKEN} `, '', `${TOKEN}é`]) {
      let error: unknown;
      try {
        new Client('http://127.0.0.1:8081', { token });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(TypeError);
      expect(String(error)).not.toContain('SecretValue');
    }
  });

  it('derives the gateway from a management endpoint on 8081, and otherwise needs it given', () => {
    expect(new Client('http://127.0.0.1:8081/').inferenceEndpoint).toBe('http://127.0.0.1:8080');
    expect(new Client('https://gw.example:8081').deployment('demo').url).toBe('https://gw.example:8080/demo');
    const remote = new Client('https://manage.example.com');
    expect(remote.inferenceEndpoint).toBeUndefined();
    expect(() => remote.deployment('demo')).toThrow('inferenceEndpoint');
    const given = new Client('https://manage.example.com', { inferenceEndpoint: 'https://models.example.com/gw/' });
    expect(given.deployment('demo').url).toBe('https://models.example.com/gw/demo');
  });

  it('refuses a deployment name that is not one path segment and a path that does not start with /', () => {
    const client = new Client('http://127.0.0.1:8081');
    for (const name of ['a/b', '..', '', 'a?b', 'a#b', 'a\\b'])
      expect(() => client.deployment(name)).toThrow(TypeError);
    expect(() => client.deployment('demo').urlOf('//evil.example/x')).not.toThrow();
    expect(client.deployment('demo').urlOf('//evil.example/x')).toBe('http://127.0.0.1:8080/demo//evil.example/x');
    expect(() => client.deployment('demo').urlOf('v1/models')).toThrow('starts with "/"');
  });
});

describe('requests', () => {
  it('sends the token only in the Authorization header, over the given fetch, without following redirects', async () => {
    const rec = recordingFetch();
    const client = new Client('http://127.0.0.1:8081', { token: TOKEN, fetch: rec.fetch });
    await client.deployments.create({ name: 'x', upstream: 'http://127.0.0.1:9' }, { headers: { authorization: 'x' } });
    const [call] = rec.calls;
    expect(call?.url).toBe('http://127.0.0.1:8081/api/v1/deployments');
    expect(call?.init.method).toBe('POST');
    expect(call?.init.redirect).toBe('manual');
    expect(call?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(call?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(String(call?.init.body))).toEqual({ name: 'x', upstream: 'http://127.0.0.1:9' });
  });

  it('percent-encodes path parameters and writes the query string', async () => {
    const rec = recordingFetch();
    const client = new Client('http://127.0.0.1:8081', { fetch: rec.fetch });
    await client.deployments.get('a b/c?');
    await client.request('get', '/api/v1/api-keys', { query: { deployment: 'd&x=1', service: undefined } });
    await client.tokens.delete('id/../1');
    expect(rec.calls.map((c) => c.url)).toEqual([
      'http://127.0.0.1:8081/api/v1/deployments/a%20b%2Fc%3F',
      'http://127.0.0.1:8081/api/v1/api-keys?deployment=d%26x%3D1',
      'http://127.0.0.1:8081/api/v1/tokens/id%2F..%2F1',
    ]);
    expect(rec.calls.every((c) => c.headers.authorization === undefined)).toBe(true);
  });

  it('uses the tokens API names fixed by issue 11', async () => {
    const rec = recordingFetch(() => Response.json({ id: 't1', token: 'mgt_x', name: 'ci' }, { status: 201 }));
    const client = new Client('http://127.0.0.1:8081', { token: TOKEN, fetch: rec.fetch });
    const created = await client.tokens.create({
      name: 'ci',
      ops_access: false,
      endpoint_access: { deployments: ['demo'] },
    });
    expect(created.token).toBe('mgt_x');
    await client.tokens.list();
    await client.tokens.delete('t1');
    expect(rec.calls.map((c) => `${c.init.method} ${c.url}`)).toEqual([
      'POST http://127.0.0.1:8081/api/v1/tokens',
      'GET http://127.0.0.1:8081/api/v1/tokens',
      'DELETE http://127.0.0.1:8081/api/v1/tokens/t1',
    ]);
    expect(JSON.parse(String(rec.calls[0]?.init.body))).toEqual({
      name: 'ci',
      ops_access: false,
      endpoint_access: { deployments: ['demo'] },
    });
  });

  it('cuts the token out of a message that a server echoed it in', async () => {
    const rec = recordingFetch(() =>
      Response.json(
        { error: { code: 'CREDENTIAL_UNKNOWN', message: `bad token ${TOKEN}`, request_id: 'r1', details: [TOKEN] } },
        { status: 401 },
      ),
    );
    const err = (await rejectionOf(
      new Client('http://127.0.0.1:8081', { token: TOKEN, fetch: rec.fetch }).whoami(),
    )) as ModelgateApiError;
    expect(err).toMatchObject({ status: 401, code: 'CREDENTIAL_UNKNOWN', requestId: 'r1' });
    expect(err.message).toBe('bad token [redacted]');
    expect(err.details).toEqual(['[redacted]']);
    expect(JSON.stringify(err.body)).not.toContain(TOKEN);
  });

  it('gives HTTP_ERROR for a redirect and for a non-JSON error, and INVALID_RESPONSE for bad JSON', async () => {
    const redirect = recordingFetch(
      () => new Response(null, { status: 302, headers: { location: 'http://evil.example/' } }),
    );
    const client = new Client('http://127.0.0.1:8081', { token: TOKEN, fetch: redirect.fetch });
    expect(await rejectionOf(client.whoami())).toMatchObject({ status: 302, code: 'HTTP_ERROR' });
    expect(redirect.calls).toHaveLength(1);

    const html = recordingFetch(
      () => new Response('<h1>Bad gateway</h1>', { status: 502, headers: { 'x-request-id': 'r2' } }),
    );
    const err = await rejectionOf(new Client('http://127.0.0.1:8081', { fetch: html.fetch }).whoami());
    expect(err).toMatchObject({ status: 502, code: 'HTTP_ERROR', requestId: 'r2', body: '<h1>Bad gateway</h1>' });

    const broken = recordingFetch(() => new Response('{"kind":', { headers: { 'content-type': 'application/json' } }));
    expect(await rejectionOf(new Client('http://127.0.0.1:8081', { fetch: broken.fetch }).whoami())).toMatchObject({
      status: 200,
      code: 'INVALID_RESPONSE',
    });
  });

  it('returns text for a non-JSON answer and undefined for an empty one', async () => {
    const text = recordingFetch(() => new Response('hello', { headers: { 'content-type': 'text/plain' } }));
    const client = new Client('http://127.0.0.1:8081', { fetch: text.fetch });
    expect(await client.deployment('demo').get('/')).toBe('hello');
    const empty = recordingFetch(() => new Response(null, { status: 204 }));
    expect(await new Client('http://127.0.0.1:8081', { fetch: empty.fetch }).deployments.delete('x')).toBeUndefined();
  });

  it('sends an inference call with its own token when given one', async () => {
    const rec = recordingFetch();
    const client = new Client('http://127.0.0.1:8081', { token: TOKEN, fetch: rec.fetch });
    await client.deployment('demo', { token: 'mgk_other' }).post('/predict', { x: 1 });
    await client.deployment('demo').get('/v1/models?x=1');
    expect(rec.calls.map((c) => [c.url, c.headers.authorization])).toEqual([
      ['http://127.0.0.1:8080/demo/predict', 'Bearer mgk_other'],
      ['http://127.0.0.1:8080/demo/v1/models?x=1', `Bearer ${TOKEN}`],
    ]);
  });
});

describe('listAll (paging)', () => {
  /** A server answering `pages[cursor]` ('' = the first page), recording the URLs asked for. */
  function server(pages: Record<string, { tokens: { name: string }[]; next_cursor: string | null }>) {
    const urls: string[] = [];
    const fetch: FetchLike = async (url) => {
      urls.push(url);
      const cursor = new URL(url).searchParams.get('cursor') ?? '';
      return Response.json(pages[cursor] ?? { tokens: [], next_cursor: null });
    };
    return { urls, client: new Client('http://127.0.0.1:8081', { token: TOKEN, fetch }) };
  }

  it('follows next_cursor with the same query until it is null, and fetches nothing before the loop', async () => {
    const { urls, client } = server({
      '': { tokens: [{ name: 'a' }, { name: 'b' }], next_cursor: 'c1' },
      c1: { tokens: [{ name: 'c' }], next_cursor: 'c/2+' },
      'c/2+': { tokens: [{ name: 'd' }], next_cursor: null },
    });
    const list = client.tokens.listAll({ all: 'true', limit: '2' });
    expect(urls).toEqual([]);
    expect((await list.toArray()).map((t) => t.name)).toEqual(['a', 'b', 'c', 'd']);
    expect(urls).toEqual([
      'http://127.0.0.1:8081/api/v1/tokens?all=true&limit=2',
      'http://127.0.0.1:8081/api/v1/tokens?all=true&limit=2&cursor=c1',
      'http://127.0.0.1:8081/api/v1/tokens?all=true&limit=2&cursor=c%2F2%2B',
    ]);
  });

  it('fails with INVALID_RESPONSE instead of looping when the server repeats a cursor', async () => {
    const { urls, client } = server({
      '': { tokens: [{ name: 'a' }], next_cursor: 'same' },
      same: { tokens: [{ name: 'b' }], next_cursor: 'same' },
    });
    const err = (await rejectionOf(client.tokens.listAll().toArray())) as ModelgateApiError;
    expect(err.code).toBe('INVALID_RESPONSE');
    expect(urls).toHaveLength(2);
  });
});
