import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { manage, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { api, GOOD_PASSWORD, userWithSession } from './helpers/people.js';
import { createScratchDatabase } from './helpers/postgres.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

/**
 * Issue 7, defect class 4: a multi-row change is one transaction. A failure injected into the
 * LAST insert of a deploy (a database trigger, as a crash or a constraint would) must leave no
 * infrastructure, service, version, secret, deployment or API key behind, and nothing served;
 * the same for issue 8's people writes (a resource and its owner, a user and its memberships).
 */

/** The tables a fault is injected into, with the column its marker is matched against. */
const MARKED = {
  deployment_revisions: 'snapshot',
  api_keys: 'description',
  owners: 'resource_type',
  group_members: 'group_id',
} as const;
type Table = keyof typeof MARKED;

/** Makes every insert into `table` whose row mentions `marker` fail inside the database. */
async function injectFailure(t: TestNode, table: Table, marker: string): Promise<void> {
  const column = MARKED[table];
  const db = t.node.store.db;
  if (t.node.store.dialect === 'postgres') {
    await sql
      .raw(
        `CREATE OR REPLACE FUNCTION injected_failure() RETURNS trigger AS $$
         BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql`,
      )
      .execute(db);
    await sql
      .raw(
        `CREATE TRIGGER injected_failure BEFORE INSERT ON ${table} FOR EACH ROW
         WHEN (NEW.${column} LIKE '%${marker}%') EXECUTE FUNCTION injected_failure()`,
      )
      .execute(db);
  } else {
    await sql
      .raw(
        `CREATE TRIGGER injected_failure BEFORE INSERT ON ${table}
         WHEN NEW.${column} LIKE '%${marker}%' BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
      )
      .execute(db);
  }
}

async function removeFailure(t: TestNode, table: Table): Promise<void> {
  const on = t.node.store.dialect === 'postgres' ? ` ON ${table}` : '';
  await sql.raw(`DROP TRIGGER IF EXISTS injected_failure${on}`).execute(t.node.store.db);
}

const setups = [
  {
    label: 'PostgreSQL',
    async start() {
      const db = await createScratchDatabase();
      const t = await startTestNode({ database_url: db.url });
      return { t, stop: () => t.close().then(() => db.drop()) };
    },
  },
  {
    label: 'SQLite',
    async start() {
      const t = await startTestNode();
      return { t, stop: () => t.close() };
    },
  },
];

describe.each(setups)('a write that fails midway leaves nothing behind ($label)', (setup) => {
  let t: TestNode;
  let stop: () => Promise<void>;
  let upstream: TestUpstream;
  beforeAll(async () => {
    ({ t, stop } = await setup.start());
    upstream = await recordingUpstream('model');
    const group = { name: 'atomic-creators', privileges: ['create_service'] };
    expect((await manage(t, 'POST', '/groups', group)).status).toBe(201);
  });
  afterAll(async () => {
    await stop?.();
    await upstream?.close();
  });
  afterEach(async () => {
    for (const table of Object.keys(MARKED) as Table[]) await removeFailure(t, table);
  });

  /** Everything a deploy of `name` could have created, as the API and the gateway show it. */
  async function leftovers(name: string) {
    const [infra, service, secrets, deployment, served] = await Promise.all([
      manage(t, 'GET', `/infrastructures/infra-${name}`),
      manage(t, 'GET', `/services/svc-${name}`),
      manage(t, 'GET', '/secrets'),
      manage(t, 'GET', `/deployments/${name}`),
      fetch(`${t.node.urls.inference}/${name}/predict`),
    ]);
    await served.arrayBuffer();
    return {
      infrastructure: infra.status,
      service: service.status,
      secret: secrets.body.secrets.some((s: { name: string }) => s.name === `pw-${name}`),
      deployment: deployment.status,
      served: served.status,
    };
  }

  const nothing = { infrastructure: 404, service: 404, secret: false, deployment: 404, served: 404 };

  function deployBody(name: string) {
    return {
      name,
      upstream: upstream.url,
      infrastructure: `infra-${name}`,
      service: `svc-${name}`,
      auth: { basic_secret: `pw-${name}`, api_keys: true },
    };
  }

  it('failing on the revision insert (the last row of a deploy): no parent, secret or deployment remains', async () => {
    await injectFailure(t, 'deployment_revisions', '"name":"boom-rev"');
    const res = await manage(t, 'POST', '/deployments', deployBody('boom-rev'));
    expect(res.status).toBe(500);
    expect(res.body.error.code).toBe('INTERNAL');
    expect(JSON.stringify(res.body)).not.toContain('injected');
    expect(await leftovers('boom-rev')).toEqual(nothing);

    // Nothing half made blocks the same deploy once the fault is gone.
    await removeFailure(t, 'deployment_revisions');
    const again = await manage(t, 'POST', '/deployments', deployBody('boom-rev'));
    expect(again.status).toBe(201);
    expect(again.body.created).toEqual([
      'infrastructure infra-boom-rev',
      'service svc-boom-rev',
      'version svc-boom-rev@1',
      'secret pw-boom-rev',
    ]);
  });

  it('failing on the API keys made with the deploy: the deployment goes too', async () => {
    const keysBefore = (await manage(t, 'GET', '/api-keys')).body.api_keys.length;
    await injectFailure(t, 'api_keys', ''); // every key insert fails
    const res = await manage(t, 'POST', '/deployments', { ...deployBody('boom-keys'), api_keys: 3 });
    expect(res.status).toBe(500);
    expect(await leftovers('boom-keys')).toEqual(nothing);
    expect((await manage(t, 'GET', '/api-keys')).body.api_keys).toHaveLength(keysBefore);
  });

  it.each(['../1', 'v 1', 'x'.repeat(65), '-1'])(
    'a deploy with a bad version %j is a 400 that creates nothing',
    async (version) => {
      const res = await manage(t, 'POST', '/deployments', { ...deployBody('badver'), version });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(await leftovers('badver')).toEqual(nothing);
    },
  );

  it('a redeploy that fails keeps serving the previous revision, and the next one numbers on from it', async () => {
    const made = await manage(t, 'POST', '/deployments', { name: 'steady', upstream: upstream.url, access: 'public' });
    expect(made.status).toBe(201);
    await injectFailure(t, 'deployment_revisions', '"name":"steady"');
    expect((await manage(t, 'POST', '/deployments/steady/redeploy')).status).toBe(500);
    expect((await manage(t, 'PATCH', '/deployments/steady', { access: 'protected' })).status).toBe(500);
    const shown = await manage(t, 'GET', '/deployments/steady');
    expect(shown.body).toMatchObject({ revision: 1, access: 'public' });
    const served = await fetch(`${t.node.urls.inference}/steady/predict`);
    expect(served.status).toBe(200);
    await served.arrayBuffer();
    await removeFailure(t, 'deployment_revisions');
    expect((await manage(t, 'POST', '/deployments/steady/redeploy')).body.revision).toBe(2);
  });
  it.each([
    ['service', '/services', { name: 'owned-svc' }, '/services/owned-svc'],
    ['secret', '/secrets', { name: 'owned-secret', generate: true }, undefined],
  ] as const)('a %s whose owner cannot be recorded is not created either', async (type, path, body, shown) => {
    const token = await userWithSession(t, `owner-of-${type}`, ['atomic-creators']);
    await injectFailure(t, 'owners', type);
    const res = await api(t, token, 'POST', path, body);
    expect(res.status).toBe(500);
    // Nothing without its owner: the resource is absent for everyone.
    const listed = (await manage(t, 'GET', path)).body[path.slice(1)] as { name: string }[];
    expect(listed.map((x) => x.name)).not.toContain(body.name);
    if (shown) expect((await manage(t, 'GET', shown)).status).toBe(404);
    await removeFailure(t, 'owners');
    expect((await api(t, token, 'POST', path, body)).status).toBe(201);
  });

  it('a user whose membership cannot be recorded is not created; a missing group leaves no user either', async () => {
    await injectFailure(t, 'group_members', 'grp');
    const body = { username: 'half-user', password: GOOD_PASSWORD, groups: ['atomic-creators'] };
    expect((await manage(t, 'POST', '/users', body)).status).toBe(500);
    expect((await manage(t, 'GET', '/users/half-user')).status).toBe(404);
    await removeFailure(t, 'group_members');
    const missing = await manage(t, 'POST', '/users', { ...body, groups: ['atomic-creators', 'no-such-group'] });
    expect(missing.status).toBe(404);
    expect((await manage(t, 'GET', '/users/half-user')).status).toBe(404);
    expect((await manage(t, 'GET', '/groups/atomic-creators')).body.members).not.toContain('half-user');
    expect((await manage(t, 'POST', '/users', body)).status).toBe(201);
  });
});
