import { execFileSync } from 'node:child_process';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestNode, type TestNode } from './helpers/in-process-node.js';
import { tempDir } from './helpers/node-process.js';
import { GOOD_PASSWORD } from './helpers/people.js';

/** Over TLS the session cookie is also `Secure`, so a browser never sends it in clear. */
let t: TestNode;
beforeAll(async () => {
  const dir = tempDir();
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  // A throwaway self-signed certificate for 127.0.0.1.
  const args = '-x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=127.0.0.1';
  execFileSync('openssl', ['req', ...args.split(' '), '-keyout', key, '-out', cert], { stdio: 'ignore' });
  t = await startTestNode({
    management_address: 'https://127.0.0.1:0',
    certificate_file: cert,
    private_key_file: key,
  });
}, 60_000);
afterAll(() => t?.close());

it('sets a Secure, HttpOnly, SameSite=Strict cookie on an https management listener', async () => {
  // The management key creates the user over the same TLS listener, through node:https.
  const post = (path: string, body: unknown, token?: string) =>
    new Promise<{ status: number; cookie: string }>((resolve, reject) => {
      const req = request(
        `${t.node.urls.management}/api/v1${path}`,
        {
          method: 'POST',
          rejectUnauthorized: false,
          headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, cookie: String(res.headers['set-cookie'] ?? '') }),
          );
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });
  const password = `${GOOD_PASSWORD} tls`;
  expect((await post('/users', { username: 'tls-user', password }, t.keys.management)).status).toBe(201);
  const signed = await post('/sessions', { username: 'tls-user', password });
  expect(signed.status).toBe(201);
  expect(signed.cookie).toMatch(/; Secure/);
  expect(signed.cookie).toMatch(/HttpOnly/);
  expect(signed.cookie).toMatch(/SameSite=Strict/);
});
