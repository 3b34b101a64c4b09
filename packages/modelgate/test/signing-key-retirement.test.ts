import { randomBytes } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeFor } from './helpers/backends.js';
import { testClock } from './helpers/clock.js';
import { getJson } from './helpers/http.js';
import { deploy, manage, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

/**
 * Issue 17, defect 4: a retired signing key is trusted, and published in the JWKS, only until
 * `retired_at + jwt_max_ttl_s`, decided by time on every verification and every JWKS answer,
 * not by a reload. The nodes get an injected clock (real time plus an offset), so the
 * bound is crossed without waiting and without any event between "before" and "after".
 */
const MAX_TTL_S = 3600;

describe.each(['sqlite', 'postgres'] as const)('a retired signing key on %s', (dialect) => {
  const clock = testClock();
  const nodes: TestNode[] = [];
  let up: TestUpstream;
  let drop: () => Promise<void>;
  let oldKid: string;
  let newKid: string;
  /** Seen by the gateway before retirement (so cached), and never seen before the bound. */
  let seen: string;
  let unseen: string;
  let fresh: string;
  let bound: number;

  beforeAll(async () => {
    const backend = await storeFor(dialect);
    drop = backend.drop;
    const env = { MODELGATE_MASTER_KEY: randomBytes(32).toString('hex') };
    // The clock moves past an hour: the node keys (by the same clock) must outlive that.
    const overrides = {
      ...backend.overrides,
      jwt_max_ttl_s: String(MAX_TTL_S),
      failure_limit: '1000',
      token_expiration_min: String((4 * MAX_TTL_S) / 60),
    };
    nodes.push(await startTestNode(overrides, env, { clock: clock.now }));
    // Two nodes on one PostgreSQL store must agree; SQLite is one node's own file.
    if (dialect === 'postgres') nodes.push(await startTestNode(overrides, env, { clock: clock.now }));
    up = await recordingUpstream('up');
    await deploy(nodes[0]!, { name: 'a', upstream: up.url, access: 'protected' });
    const issue = async () => (await manage(nodes[0]!, 'GET', '/issue-jwt?deployment=a')).body.token as string;
    seen = await issue();
    unseen = await issue();
    oldKid = decodeProtectedHeader(seen).kid!;
    for (const node of nodes) expect(await until(async () => (await model(node, seen)).status === 200)).toBe(true);
    const rotated = await manage(nodes[0]!, 'POST', '/signing-keys/rotate');
    expect(rotated.status).toBe(201);
    newKid = rotated.body.kid;
    const retired = (rotated.body.signing_keys as { kid: string; retired_at: string }[]).find((k) => k.kid === oldKid);
    bound = Date.parse(retired!.retired_at) + MAX_TTL_S * 1000;
    fresh = await issue();
    expect(decodeProtectedHeader(fresh).kid).toBe(newKid);
    for (const node of nodes) expect(await until(async () => (await model(node, fresh)).status === 200)).toBe(true);
  });
  afterAll(async () => {
    for (const node of nodes) await node.close();
    await up?.close();
    await drop?.();
  });

  const model = (node: TestNode, token: string) => getJson(`${node.node.urls.inference}/a/predict`, token);
  const kids = async (url: string) =>
    ((await getJson(`${url}/.well-known/jwks.json`)).body.keys as { kid: string }[]).map((k) => k.kid).sort();
  const until = async (check: () => Promise<boolean>) => {
    for (let i = 0; i < 100 && !(await check()); i++) await new Promise((r) => setTimeout(r, 50));
    return check();
  };

  it('right before retired_at + jwt_max_ttl_s the old key verifies and is published, on every node', async () => {
    clock.at(bound - 1000);
    for (const node of nodes) {
      expect((await model(node, seen)).status).toBe(200);
      for (const url of [node.node.urls.inference, node.node.urls.management]) {
        expect(await kids(url)).toEqual([newKid, oldKid].sort());
      }
    }
  });

  it('right after it, with no event or reload between, the old key verifies nothing and is gone from the JWKS', async () => {
    clock.at(bound + 1000);
    for (const node of nodes) {
      // A token the gateway had cached, and one it never saw: both refused like a forged one.
      for (const token of [seen, unseen]) {
        const res = await model(node, token);
        expect(res.status).toBe(401);
        expect(res.body.error?.code).toBe('CREDENTIAL_UNKNOWN');
      }
      for (const url of [node.node.urls.inference, node.node.urls.management]) {
        expect(await kids(url)).toEqual([newKid]);
      }
      // The current key is untouched by the passing time.
      expect((await model(node, fresh)).status).toBe(200);
    }
  });

  it('the listing still shows the retired key with its retirement date (history, not trust)', async () => {
    const listed = (await manage(nodes[0]!, 'GET', '/signing-keys')).body.signing_keys as { kid: string }[];
    expect(listed.map((k) => k.kid)).toContain(oldKid);
  });
});
