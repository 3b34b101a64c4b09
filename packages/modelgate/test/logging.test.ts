import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCredential } from '../src/kernel/credential.js';
import { type NodeProcess, startNodeProcess } from './helpers/node-process.js';

type Listener = keyof NodeProcess['urls'];
const LISTENERS: readonly Listener[] = ['inference', 'management', 'metrics'];

/** A fresh secret per use, so a hit in the log can only come from this request. */
function secret(label: string): string {
  return `${label}${randomBytes(16).toString('hex')}`;
}

/**
 * Every form in which a secret could leak: as sent, base64 (alone and inside `user:secret`),
 * URL-encoded, and as the byte list a serialized Buffer turns into.
 */
function forms(value: string): string[] {
  const b = Buffer.from(value, 'utf8');
  return [
    value,
    b.toString('base64'),
    b.toString('base64url'),
    encodeURIComponent(value),
    [...b].join(','),
    // The middle of the bytes, so a secret inside a longer serialized buffer is caught too.
    [...b.subarray(4, -4)].join(','),
  ];
}

/** Sends bytes that are not valid HTTP and resolves with the status line of the answer. */
function sendRaw(url: string, text: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = connect(Number(port), hostname, () => socket.write(text));
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer to a malformed request')));
    socket.on('data', (d: Buffer) => {
      answer += d.toString('latin1');
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(answer.split('\r\n')[0] ?? ''));
  });
}

describe.each(['debug', 'trace'])('no secret reaches the log (log level %s)', (level) => {
  let node: NodeProcess;
  const secrets: string[] = [];
  /** Ids of requests that must leave a log line: every management request, and inference requests for a deployment. */
  const loggedIds: string[] = [];

  beforeAll(async () => {
    node = await startNodeProcess(['--log-level', level]);
    for (const listener of LISTENERS) {
      for (const path of ['/_health/live', '/_health/ready', '/api/v1/nothing', '/some-deployment/predict']) {
        const s = {
          bearer: secret('bearer'),
          basic: secret('basic'),
          cookie: secret('cookie'),
          apiKey: secret('apikey'),
          proxy: secret('proxy'),
          token: secret('qtoken'),
          queryKey: secret('qkey'),
          accessToken: secret('qaccess'),
          password: secret('qpass'),
          encodedName: secret('qenc'),
        };
        secrets.push(...Object.values(s));
        const requestId = `log-${level}-${listener}-${randomBytes(6).toString('hex')}`;
        const query = [
          `token=${s.token}`,
          `api_key=${s.queryKey}`,
          `Access_Token=${s.accessToken}`,
          `password=${s.password}`,
          `%74oken=${s.encodedName}`,
          'page=2',
        ].join('&');
        const res = await fetch(`${node.urls[listener]}${path}?${query}`, {
          headers: {
            Authorization: `Bearer ${s.bearer}`,
            Cookie: `session=${s.cookie}; theme=dark`,
            'X-Api-Key': s.apiKey,
            'Proxy-Authorization': `Basic ${Buffer.from(`user:${s.proxy}`).toString('base64')}`,
            'X-Request-Id': requestId,
          },
        });
        await res.arrayBuffer();
        expect(res.headers.get('x-request-id')).toBe(requestId);
        if (listener === 'management' || (listener === 'inference' && path === '/some-deployment/predict'))
          loggedIds.push(requestId);

        // Basic credentials, in their own request (one Authorization header per request).
        const basicId = `${requestId}-basic`;
        const basic = await fetch(`${node.urls[listener]}${path}`, {
          headers: {
            Authorization: `Basic ${Buffer.from(`modelgate:${s.basic}`).toString('base64')}`,
            'X-Request-Id': basicId,
          },
        });
        await basic.arrayBuffer();
        if (listener === 'management' || (listener === 'inference' && path === '/some-deployment/predict'))
          loggedIds.push(basicId);
      }
    }
    // A real-shaped API token pasted into a URL (path and an innocent-looking query name).
    for (const listener of ['inference', 'management'] as const) {
      const inPath = generateCredential('api_token');
      const inQuery = generateCredential('api_token');
      secrets.push(inPath, inQuery);
      const path = listener === 'management' ? `/api/v1/tokens/${inPath}` : `/some-deployment/${inPath}`;
      const res = await fetch(`${node.urls[listener]}${path}?note=${inQuery}`, { method: 'DELETE' });
      await res.arrayBuffer();
    }
    // Malformed requests carrying credentials: the server's client-error path must not dump them.
    for (const listener of LISTENERS) {
      const bearer = secret('rawbearer');
      const query = secret('rawquery');
      secrets.push(bearer, query);
      const status = await sendRaw(
        node.urls[listener],
        `GET /x?token=${query} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${bearer}\r\nBad Header Line\r\n\r\n`,
      );
      expect(status).toMatch(/^HTTP\/1\.1 400/);
    }
    // A body the management API refuses, sent with a credential: the error path logs too.
    const bad = secret('badbody');
    secrets.push(bad);
    const res = await fetch(`${node.urls.management}/api/v1/nothing?token=${bad}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${bad}`, 'X-Request-Id': 'log-bad-body' },
      body: `{"password":"${bad}",`,
    });
    await res.arrayBuffer();
    expect(res.status).toBe(400);
    loggedIds.push('log-bad-body');
    // Let the last log lines reach the pipe before reading, then stop the node (flushes pino).
    await new Promise((r) => setTimeout(r, 300));
    await node.stop();
  });

  afterAll(async () => {
    await node?.stop();
  });

  it('logs at the requested level', () => {
    expect(node.output()).toMatch(/"msg":"modelgate started"/);
    expect(node.output()).toMatch(/"msg":"modelgate stopped"/);
    expect(node.output()).toMatch(/"msg":"incoming request"/);
  });

  it('no secret, nor its base64, appears anywhere in the output', () => {
    const output = node.output();
    expect(secrets.length).toBeGreaterThan(100);
    const leaked = secrets.flatMap(forms).filter((form) => output.includes(form));
    expect(leaked).toEqual([]);
    // The shapes the secrets arrived in are not in the log either.
    expect(output).not.toMatch(/Bearer |Basic [A-Za-z0-9+/]/);
    expect(output).not.toMatch(/session=/);
  });

  it('secret query values are replaced, other query values kept', () => {
    expect(node.output()).toContain('token=[redacted]');
    expect(node.output()).toContain('api_key=[redacted]');
    expect(node.output()).toContain('page=2');
  });

  it('the request ids appear in the log (management requests, inference deployment requests)', () => {
    const output = node.output();
    expect(loggedIds.length).toBe(4 * 2 + 2 + 1);
    for (const id of loggedIds) expect(output, id).toContain(id);
  });
});
