import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCredential } from '../src/kernel/credential.js';
import { loggablePath } from '../src/log/loggable-path.js';
import { redactUrl } from '../src/log/logger.js';
import { rawRequest } from './helpers/http.js';
import { type NodeProcess, startNodeProcess } from './helpers/node-process.js';

/**
 * Issue 17, defect 8: a JWT pasted into a management URL reached the management request log in
 * full (its scrubber knew `mg*_` credentials only), while the data plane's access line scrubbed
 * it. Both listeners' URLs now go through one scrubber; a real node's whole output is searched.
 */

const b64url = (bytes: number) => randomBytes(bytes).toString('base64url');
/** A JWT-shaped token with fresh random parts, so any trace of it in the log comes from here. */
const jwt = () => `eyJhbGciOiJFUzI1NiIsImtpZCI6Ik${b64url(12)}.eyJzdWIiOi${b64url(48)}.${b64url(64)}`;
/** Every character percent-encoded: a server decodes this to the same token. */
const encodeAll = (s: string) => [...Buffer.from(s)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
/** The parts a leak would show: each random part alone, so a half-scrubbed token is caught too. */
const tracesOf = (secret: string) => {
  const parts = secret.startsWith('mg') ? [secret.slice(4, -6)] : secret.split('.').map((p) => p.slice(12));
  return parts.flatMap((p) => [p, encodeAll(p), encodeAll(p).toUpperCase()]);
};

describe('one URL scrubber for the management and data-plane logs of a real node', () => {
  let node: NodeProcess;
  let management: string;
  const secrets: string[] = [];
  /** Requests that must have left a line. */
  const ids: string[] = [];
  let sent = 0;

  beforeAll(async () => {
    node = await startNodeProcess(['--log-level', 'debug']);
    management = JSON.parse(readFileSync(`${node.cwd}/key_file.json`, 'utf8')).management.key;
    const res = await fetch(`${node.urls.management}/api/v1/deployments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${management}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'open', upstream: 'http://127.0.0.1:9/', access: 'public' }),
    });
    expect(res.status).toBe(201);
  }, 90_000);
  afterAll(async () => {
    await node?.stop();
  });

  /** Sends `target` (as written, not normalized by fetch) with a request id to find its lines by. */
  async function send(base: string, target: string, withKey: boolean): Promise<number> {
    const id = `scrub-${sent++}`;
    const headers = [`X-Request-Id: ${id}`, ...(withKey ? [`Authorization: Bearer ${management}`] : [])];
    const { status } = await rawRequest(base, `GET ${target} HTTP/1.1`, headers);
    // A path too long for the router is answered before any hook (no line at all): only URLs that
    // reach a route are sure to leave one.
    if (target.includes('?') || base === node.urls.inference) ids.push(id);
    return status;
  }

  /** The management URLs a pasted credential can take: path segment, query value, encoded. */
  const managementTargets = (s: string) => [
    `/api/v1/deployments/${s}`,
    `/api/v1/deployments/prefix-${s}-suffix`,
    `/api/v1/deployments?cursor=${s}`,
    `/api/v1/deployments?limit=5&q=${s}&page=2`,
    `/api/v1/deployments/${encodeAll(s)}`,
    `/api/v1/deployments?cursor=${encodeAll(s)}`,
    `/api/v1/deployments?${s}`,
    `/api/v1/${s}=x?${encodeAll(s)}=${s}`,
    // Encoded twice: one decode still leaves it readable to whoever reads the log.
    `/api/v1/deployments?cursor=${encodeURIComponent(encodeAll(s))}`,
    `/api/v1/deployments/${s.replaceAll('.', '%2E')}`,
  ];

  it('no form of a JWT or an mgt_ token in a management URL reaches the log; the data plane still scrubs', async () => {
    for (const secret of [jwt(), jwt(), generateCredential('api_token'), generateCredential('api_key')]) {
      secrets.push(secret);
      for (const target of managementTargets(secret)) {
        for (const withKey of [true, false]) {
          const status = await send(node.urls.management, target, withKey);
          expect(status, target).toBeGreaterThanOrEqual(200);
        }
      }
      for (const target of [
        `/open/${secret}`,
        `/open/x?q=${secret}`,
        `/open/${encodeAll(secret)}?${encodeAll(secret)}`,
      ]) {
        await send(node.urls.inference, target, false);
      }
    }
    // Every request that reached the routes left its line, so a clean log is not an empty one.
    expect(ids.length).toBeGreaterThan(40);
    for (const id of ids) await node.waitFor(new RegExp(`"request_id":"${id}".*"msg":"(request completed|request)"`));
    const output = node.output();
    for (const secret of secrets) {
      for (const trace of tracesOf(secret)) expect(output, `a trace of ${secret.slice(0, 8)}...`).not.toContain(trace);
    }
    expect(output).toContain('[credential]');
  }, 90_000);
});

describe('the scrubber both listeners use', () => {
  const token = jwt();
  it('the management form keeps plain query values and names, and scrubs credentials in every part', () => {
    expect(redactUrl('/api/v1/deployments?limit=5&cursor=abc')).toBe('/api/v1/deployments?limit=5&cursor=abc');
    expect(redactUrl(`/api/v1/deployments/${token}`)).toBe('/api/v1/deployments/[credential]');
    expect(redactUrl(`/api/v1/x?q=${token}&limit=5`)).toBe('/api/v1/x?q=[credential]&limit=5');
    expect(redactUrl(`/api/v1/x?${encodeAll(token)}`)).toBe('/api/v1/x?[credential]');
    expect(redactUrl('/api/v1/x?token=plain-value')).toBe('/api/v1/x?token=[redacted]');
  });
  it('the data-plane form redacts every query value and scrubs the path alike', () => {
    expect(loggablePath(`/demo/${encodeAll(token)}?page=2`)).toBe('/demo/[credential]?page=[redacted]');
    expect(loggablePath(`/demo/${token}`)).toBe('/demo/[credential]');
    expect(loggablePath('/demo/predict?x=1')).toBe('/demo/predict?x=[redacted]');
  });
});
