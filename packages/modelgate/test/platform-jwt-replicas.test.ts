import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson } from './helpers/http.js';
import { deploy, manage, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { tempDir } from './helpers/node-process.js';
import { createScratchDatabase } from './helpers/postgres.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

/**
 * Two replicas on one PostgreSQL store with a shared master key: a token issued by one opens the
 * deployment on the other, and a revocation or rotation made on one is in force on the other
 * within a change-log poll.
 */
describe('platform JWTs across replicas sharing PostgreSQL', () => {
  let one: TestNode;
  let two: TestNode;
  let up: TestUpstream;
  let drop: () => Promise<void>;
  let url: string;

  beforeAll(async () => {
    const db = await createScratchDatabase();
    drop = () => db.drop();
    url = db.url;
    const env = { MODELGATE_MASTER_KEY: randomBytes(32).toString('hex') };
    one = await startTestNode({ database_url: db.url, failure_limit: '1000' }, env);
    two = await startTestNode({ database_url: db.url, failure_limit: '1000' }, env);
    up = await recordingUpstream('up');
    await deploy(one, { name: 'a', upstream: up.url, access: 'protected' });
  });
  afterAll(async () => {
    await one?.close();
    await two?.close();
    await up?.close();
    await drop?.();
  });

  const model = (node: TestNode, token: string) => getJson(`${node.node.urls.inference}/a/predict`, token);
  const until = async (check: () => Promise<boolean>) => {
    for (let i = 0; i < 100 && !(await check()); i++) await new Promise((r) => setTimeout(r, 50));
    return check();
  };

  it('a replica with another master key refuses to start, naming the cause', async () => {
    const other = { MODELGATE_MASTER_KEY: randomBytes(32).toString('hex') };
    await expect(startTestNode({ database_url: url }, other)).rejects.toMatchObject({
      code: 'MASTER_KEY_MISMATCH',
      message: expect.stringContaining('MODELGATE_MASTER_KEY'),
    });
  });

  it('a replica without the shared key fails the same way and leaves no master.key it made behind', async () => {
    const dataDir = join(tempDir(), 'data');
    await expect(startTestNode({ database_url: url, data_dir: dataDir }, {})).rejects.toMatchObject({
      code: 'MASTER_KEY_MISMATCH',
    });
    expect(existsSync(join(dataDir, 'master.key'))).toBe(false);
    // A data directory with its own master.key keeps it: only what the failed start made goes.
    const kept = join(tempDir(), 'data');
    mkdirSync(kept, { mode: 0o700 });
    writeFileSync(join(kept, 'master.key'), `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    await expect(startTestNode({ database_url: url, data_dir: kept }, {})).rejects.toMatchObject({
      code: 'MASTER_KEY_MISMATCH',
    });
    expect(existsSync(join(kept, 'master.key'))).toBe(true);
  });

  it('both replicas publish the same single key', async () => {
    const a = await getJson(`${one.node.urls.inference}/.well-known/jwks.json`);
    const b = await getJson(`${two.node.urls.management}/.well-known/jwks.json`);
    expect(a.body).toEqual(b.body);
    expect(a.body.keys).toHaveLength(1);
  });

  it('a token issued on one replica is accepted by the other, and a revocation on one reaches the other', async () => {
    await until(async () => (await model(two, 'x.y.z')).status !== 404);
    const { body } = await manage(one, 'GET', '/issue-jwt?deployment=a');
    expect((await model(two, body.token)).status).toBe(200);
    expect((await manage(one, 'POST', '/jwt-revocations', { jti: body.jti })).status).toBe(201);
    expect((await model(one, body.token)).status).toBe(401);
    expect(await until(async () => (await model(two, body.token)).status === 401)).toBe(true);
  });

  it('a rotation on one replica: its new tokens work on the other', async () => {
    const rotated = await manage(one, 'POST', '/signing-keys/rotate');
    const { body } = await manage(one, 'GET', '/issue-jwt?deployment=a');
    expect(decodeProtectedHeader(body.token).kid).toBe(rotated.body.kid);
    expect((await model(two, body.token)).status).toBe(200);
    const jwks = await getJson(`${two.node.urls.inference}/.well-known/jwks.json`);
    expect(jwks.body.keys).toHaveLength(2);
  });
});
