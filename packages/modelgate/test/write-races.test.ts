import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from './helpers/http.js';
import { manage, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { type NodeProcess, startNodeProcess, tempDir } from './helpers/node-process.js';
import { api, userWithSession } from './helpers/people.js';
import { createScratchDatabase } from './helpers/postgres.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

/**
 * Issue 7, defect class 4: concurrent management writes through the real HTTP API. A race ends
 * in one success and clean 409s, or in serialized successes; never a 500, never half a write.
 * Each case runs several rounds of PARALLEL requests, spread over every node of the setup.
 */

const PARALLEL = 12;
const ROUNDS = 5;
/** For the cases that hash Basic passwords (scrypt) on every deploy: a guard, not a measurement. */
const SLOW_TIMEOUT = 120_000;

interface Setup {
  readonly label: string;
  /** Starts the nodes of this setup; they share one database. */
  start(): Promise<{ nodes: TestNode[]; stop(): Promise<void> }>;
}

async function startShared(count: number, overrides: Record<string, string>): Promise<TestNode[]> {
  // One data dir, so replicas share the master key (secrets and API keys are sealed under it).
  const data = join(tempDir(), 'data');
  const nodes: TestNode[] = [];
  for (let i = 0; i < count; i++) nodes.push(await startTestNode({ ...overrides, data_dir: data }));
  return nodes;
}

function onPostgres(count: number): Setup {
  return {
    label: `PostgreSQL, ${count} node${count > 1 ? 's' : ''}`,
    async start() {
      const db = await createScratchDatabase();
      const nodes = await startShared(count, { database_url: db.url });
      return {
        nodes,
        async stop() {
          await Promise.all(nodes.map((n) => n.close()));
          await db.drop();
        },
      };
    },
  };
}

const onSqlite: Setup = {
  label: 'SQLite, 1 node',
  async start() {
    const nodes = await startShared(1, {});
    return { nodes, stop: () => Promise.all(nodes.map((n) => n.close())).then(() => {}) };
  },
};

/**
 * Two `modelgate start` processes on one SQLite data dir: their transactions meet in SQLite's
 * file lock (in one test process, better-sqlite3's synchronous lock wait would block both).
 */
const onSqliteProcesses: Setup = {
  label: 'SQLite, 2 node processes',
  async start() {
    const data = join(tempDir(), 'data');
    const procs: NodeProcess[] = [];
    const nodes: TestNode[] = [];
    for (let i = 0; i < 2; i++) {
      const cwd = tempDir();
      const proc = await startNodeProcess(['--data-dir', data], { cwd });
      procs.push(proc);
      const file = JSON.parse(readFileSync(join(cwd, 'key_file.json'), 'utf8'));
      // manage() needs only the URLs and the management key.
      nodes.push({ node: { urls: proc.urls }, keys: { management: file.management.key } } as unknown as TestNode);
    }
    return { nodes, stop: () => Promise.all(procs.map((p) => p.stop())).then(() => {}) };
  },
};

/** PARALLEL requests at once, the i-th through node i mod n. */
function race(nodes: TestNode[], request: (i: number) => [method: string, path: string, body?: unknown]) {
  return Promise.all(
    Array.from({ length: PARALLEL }, (_, i) => {
      const [method, path, body] = request(i);
      return manage(nodes[i % nodes.length]!, method, path, body);
    }),
  );
}

/** The first defined result of `check`, polled for up to 5 s (replicas follow the change log). */
async function eventually<T>(check: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const found = await check();
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('never happened');
}

function statuses(results: { status: number }[]): number[] {
  return results.map((r) => r.status).sort();
}

describe.each([onPostgres(1), onPostgres(2), onSqlite, onSqliteProcesses])('write races on $label', (setup) => {
  let nodes: TestNode[];
  let stop: () => Promise<void>;
  let upstream: TestUpstream;
  beforeAll(async () => {
    ({ nodes, stop } = await setup.start());
    upstream = await recordingUpstream('model');
  });
  afterAll(async () => {
    await stop?.();
    await upstream?.close();
  });
  const any = () => nodes[0]!;

  it.each([
    ['deployment', (n: string) => ['POST', '/deployments', { name: n, upstream: upstream.url }]],
    [
      'deployment with API keys',
      (n: string) => ['POST', '/deployments', { name: n, upstream: upstream.url, api_keys: 2 }],
    ],
    ['infrastructure', (n: string) => ['POST', '/infrastructures', { name: n }]],
    ['service', (n: string) => ['POST', '/services', { name: n }]],
    ['secret', (n: string) => ['POST', '/secrets', { name: n, generate: true }]],
  ] as const)('same-name creates of a %s: exactly one 201, the rest 409 RESOURCE_CONFLICT', async (kind, body) => {
    for (let round = 0; round < ROUNDS; round++) {
      const name = `${kind.toLowerCase().replace(/ /g, '-')}-same-${round}`;
      const results = await race(nodes, () => body(name) as [string, string, unknown]);
      expect(statuses(results)).toEqual([201, ...Array(PARALLEL - 1).fill(409)]);
      for (const r of results.filter((x) => x.status === 409)) expect(r.body.error.code).toBe('RESOURCE_CONFLICT');
    }
    if (kind === 'deployment with API keys') {
      // The losers' keys were rolled back with their deployment: 2 keys per winner, none orphaned.
      const keys = await manage(any(), 'GET', '/api-keys');
      const mine = keys.body.api_keys.filter((k: { deployment?: string }) =>
        k.deployment?.startsWith('deployment-with-api-keys-same-'),
      );
      expect(mine).toHaveLength(2 * ROUNDS);
      expect(mine.every((k: { deployment: string }) => k.deployment !== '(deleted)')).toBe(true);
    }
  });

  it('same-name creates of a version of one service: exactly one 201, the rest 409', async () => {
    expect((await manage(any(), 'POST', '/services', { name: 'versioned' })).status).toBe(201);
    for (let round = 0; round < ROUNDS; round++) {
      const results = await race(nodes, () => ['POST', '/services/versioned/versions', { version: `v${round}` }]);
      expect(statuses(results)).toEqual([201, ...Array(PARALLEL - 1).fill(409)]);
    }
    const listed = await manage(any(), 'GET', '/services/versioned/versions');
    expect(listed.body.versions).toHaveLength(ROUNDS);
  });

  it.each([
    ['without', ROUNDS],
    // Fewer rounds: each deploy with a Basic secret snapshots a slow (scrypt) password hash.
    ['with', 1],
  ] as const)(
    'parallel deploys sharing a new infrastructure and service (%s a new Basic secret) all succeed, sharing one of each',
    async (secret, rounds) => {
      for (let round = 0; round < rounds; round++) {
        const tag = `${secret}-${round}`;
        const results = await race(nodes, (i) => [
          'POST',
          '/deployments',
          {
            name: `share-${tag}-${i}`,
            upstream: upstream.url,
            infrastructure: `infra-${tag}`,
            service: `svc-${tag}`,
            ...(secret === 'with' ? { auth: { basic_secret: `pw-${tag}` } } : {}),
          },
        ]);
        expect(statuses(results)).toEqual(Array(PARALLEL).fill(201));
        // Exactly one of them created each shared parent.
        const createdBy = (what: string) => results.filter((r) => r.body.created.includes(what)).length;
        expect(createdBy(`infrastructure infra-${tag}`)).toBe(1);
        expect(createdBy(`service svc-${tag}`)).toBe(1);
        expect(createdBy(`version svc-${tag}@1`)).toBe(1);
        expect((await manage(any(), 'GET', `/services/svc-${tag}/versions`)).body.versions).toHaveLength(1);
        if (secret === 'without') continue;
        const generated = results.filter((r) => r.body.generated_secret);
        expect(generated).toHaveLength(1);
        // Every deployment snapshotted that one value: its Basic password opens all of them.
        const password = generated[0]!.body.generated_secret.value as string;
        const auth = `Basic ${Buffer.from(`modelgate:${password}`).toString('base64')}`;
        for (let i = 0; i < PARALLEL; i++) {
          const node = nodes[i % nodes.length]!;
          const res = await fetch(`${node.node.urls.inference}/share-${tag}-${i}/predict`, {
            headers: { authorization: auth },
          });
          expect(res.status).toBe(200);
          await res.arrayBuffer();
        }
      }
      const infras = (await manage(any(), 'GET', '/infrastructures')).body.infrastructures as { name: string }[];
      expect(infras.filter((x) => x.name.startsWith(`infra-${secret}-`))).toHaveLength(rounds);
    },
    SLOW_TIMEOUT,
  );

  it('parallel redeploys and changes of one deployment all succeed with distinct, serialized revisions', async () => {
    expect((await manage(any(), 'POST', '/deployments', { name: 'busy', upstream: upstream.url })).status).toBe(201);
    let revision = 1;
    for (let round = 0; round < ROUNDS; round++) {
      const results = await race(nodes, (i) =>
        i % 3 === 2
          ? ['PATCH', '/deployments/busy', { access: i % 2 === 0 ? 'public' : 'protected' }]
          : ['POST', '/deployments/busy/redeploy'],
      );
      expect(statuses(results)).toEqual(Array(PARALLEL).fill(200));
      const revisions = results.map((r) => r.body.revision as number).sort((a, b) => a - b);
      expect(revisions).toEqual(Array.from({ length: PARALLEL }, (_, i) => revision + 1 + i));
      revision += PARALLEL;
      expect((await manage(any(), 'GET', '/deployments/busy')).body.revision).toBe(revision);
    }
  });

  it('deploys into an infrastructure while it is being deleted: 201/204 or a clean 409, never half a write', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const infra = `doomed-${round}`;
      expect((await manage(any(), 'POST', '/infrastructures', { name: infra })).status).toBe(201);
      const results = await race(nodes, (i) =>
        i % 4 === 0
          ? ['DELETE', `/infrastructures/${infra}`]
          : ['POST', '/deployments', { name: `doomed-${round}-${i}`, upstream: upstream.url, infrastructure: infra }],
      );
      for (const r of results) expect([201, 204, 404, 409]).toContain(r.status);
      const deployed = results.filter((r) => r.status === 201).map((r) => r.body.deployment.name as string);
      // Every 201 landed in the infrastructure (re-created if a delete won first), and nothing else did.
      const listed = (await manage(any(), 'GET', '/deployments')).body.deployments as {
        name: string;
        infrastructure: string;
      }[];
      const inIt = listed.filter((d) => d.infrastructure === infra).map((d) => d.name);
      expect(inIt.sort()).toEqual(deployed.sort());
      if (deployed.length > 0) expect((await manage(any(), 'GET', `/infrastructures/${infra}`)).status).toBe(200);
    }
  });

  it(
    'deploys that snapshot a secret while it is being deleted: no deployment is left using a missing secret',
    async () => {
      // Fewer rounds: each deploy with a Basic secret snapshots a slow (scrypt) password hash.
      for (let round = 0; round < 2; round++) {
        const secret = `contested-${round}`;
        expect((await manage(any(), 'POST', '/secrets', { name: secret, generate: true })).status).toBe(201);
        // Deletes keep coming for as long as any deploy is still running, so some land mid-deploy.
        let running = true;
        const deploys = race(nodes, (i) => [
          'POST',
          '/deployments',
          { name: `${secret}-${i}`, upstream: upstream.url, auth: { basic_secret: secret } },
        ]).finally(() => {
          running = false;
        });
        const deletes: { status: number }[] = [];
        for (let i = 0; running; i++)
          deletes.push(await manage(nodes[i % nodes.length]!, 'DELETE', `/secrets/${secret}`));
        const results = [...(await deploys), ...deletes];
        for (const r of results) expect([201, 204, 404, 409]).toContain(r.status);
        // A delete that won made later deploys generate a new value; one that lost answered
        // 409 RESOURCE_IN_USE. Either way, whoever uses the secret finds it (and can redeploy).
        const listed = (await manage(any(), 'GET', '/deployments')).body.deployments as {
          auth: { basic_secret: string | null };
        }[];
        const users = listed.filter((d) => d.auth.basic_secret === secret).length;
        const secrets = (await manage(any(), 'GET', '/secrets')).body.secrets as { name: string }[];
        expect(users === 0 || secrets.some((x) => x.name === secret)).toBe(true);
      }
    },
    SLOW_TIMEOUT,
  );

  it('API keys created while their deployment is deleted: none is left orphaned', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const name = `keyed-${round}`;
      expect((await manage(any(), 'POST', '/deployments', { name, upstream: upstream.url })).status).toBe(201);
      const results = await race(nodes, (i) =>
        i === PARALLEL / 2 ? ['DELETE', `/deployments/${name}`] : ['POST', '/api-keys', { deployment: name, count: 2 }],
      );
      for (const r of results) expect([201, 204, 404]).toContain(r.status);
      const keys = (await manage(any(), 'GET', '/api-keys')).body.api_keys as { deployment?: string }[];
      expect(keys.filter((k) => k.deployment === '(deleted)')).toEqual([]);
      expect(keys.filter((k) => k.deployment === name)).toEqual([]);
    }
  });

  it('API keys created for a service version while it is deleted: none is left orphaned', async () => {
    expect((await manage(any(), 'POST', '/services', { name: 'keyed-svc' })).status).toBe(201);
    for (let round = 0; round < ROUNDS; round++) {
      const version = `k${round}`;
      expect((await manage(any(), 'POST', '/services/keyed-svc/versions', { version })).status).toBe(201);
      const results = await race(nodes, (i) =>
        i === PARALLEL / 2
          ? ['DELETE', `/services/keyed-svc/versions/${version}`]
          : ['POST', '/api-keys', { service: 'keyed-svc', version, count: 2 }],
      );
      for (const r of results) expect([201, 204, 404]).toContain(r.status);
      const keys = (await manage(any(), 'GET', '/api-keys')).body.api_keys as { service?: string }[];
      expect(keys.filter((k) => k.service === '(deleted)')).toEqual([]);
    }
  });

  it('enable, disable and redeploy of one deployment in parallel: all succeed, revisions stay serialized', async () => {
    expect((await manage(any(), 'POST', '/deployments', { name: 'toggled', upstream: upstream.url })).status).toBe(201);
    let revision = 1;
    for (let round = 0; round < ROUNDS; round++) {
      const results = await race(nodes, (i) =>
        i % 3 === 0
          ? ['POST', '/deployments/toggled/redeploy']
          : ['POST', `/deployments/toggled/${i % 3 === 1 ? 'enable' : 'disable'}`],
      );
      expect(statuses(results)).toEqual(Array(PARALLEL).fill(200));
      revision += PARALLEL / 3;
      expect((await manage(any(), 'GET', '/deployments/toggled')).body.revision).toBe(revision);
    }
  });

  it('parallel signing-key rotations: all succeed, one key is current, and every node signs and publishes it', async () => {
    const made = await manage(any(), 'POST', '/deployments', {
      name: 'jwt-target',
      upstream: upstream.url,
      access: 'protected',
      api_keys: 0,
    });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    for (let round = 0; round < ROUNDS; round++) {
      const results = await race(nodes, () => ['POST', '/signing-keys/rotate']);
      expect(statuses(results)).toEqual(Array(PARALLEL).fill(201));
      const keys = (await manage(any(), 'GET', '/signing-keys')).body.signing_keys as {
        kid: string;
        retired_at: string | null;
      }[];
      const current = keys.filter((k) => k.retired_at === null);
      expect(current).toHaveLength(1);
      expect(results.map((r) => r.body.kid)).toContain(current[0]!.kid);
    }
    const kid = ((await manage(any(), 'GET', '/signing-keys')).body.signing_keys as { kid: string; retired_at: null }[])
      .filter((k) => k.retired_at === null)
      .map((k) => k.kid)[0];
    for (const issuer of nodes) {
      // Another replica learns of the last rotation within a change-log poll.
      const token = await eventually(async () => {
        const issued = await manage(issuer, 'GET', '/issue-jwt?deployment=jwt-target');
        return decodeProtectedHeader(issued.body.token).kid === kid ? (issued.body.token as string) : undefined;
      });
      for (const node of nodes) {
        for (const base of [node.node.urls.inference, node.node.urls.management]) {
          const jwks = await eventually(async () => {
            const res = await call(`${base}/.well-known/jwks.json`);
            const kids = (res.json.keys as { kid: string }[]).map((k) => k.kid);
            return kids.includes(kid!) ? kids : undefined;
          });
          expect(jwks).toContain(kid);
        }
        const res = await call(`${node.node.urls.inference}/jwt-target/x`, {
          headers: { authorization: `Bearer ${token}` },
        });
        expect(res.status).toBe(200);
      }
    }
  });

  it('parallel deletes of one deployment: one 204, the rest 404; its API keys go with it', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const name = `gone-${round}`;
      const made = await manage(any(), 'POST', '/deployments', { name, upstream: upstream.url, api_keys: 1 });
      expect(made.status).toBe(201);
      const results = await race(nodes, () => ['DELETE', `/deployments/${name}`]);
      expect(statuses(results)).toEqual([204, ...Array(PARALLEL - 1).fill(404)]);
      const keys = (await manage(any(), 'GET', '/api-keys')).body.api_keys as { id: string }[];
      expect(keys.map((k) => k.id)).not.toContain(made.body.api_keys[0].id);
    }
  });
  it(
    'same-name creates of a user (with a membership): exactly one 201, the rest 409 RESOURCE_CONFLICT',
    async () => {
      expect((await manage(any(), 'POST', '/groups', { name: 'racers' })).status).toBe(201);
      // Fewer rounds: every create hashes its password (scrypt).
      for (let round = 0; round < 2; round++) {
        const username = `racer-${round}`;
        const results = await race(nodes, () => [
          'POST',
          '/users',
          { username, password: 'a long enough passphrase', groups: ['racers'] },
        ]);
        expect(statuses(results)).toEqual([201, ...Array(PARALLEL - 1).fill(409)]);
        for (const r of results.filter((x) => x.status === 409)) expect(r.body.error.code).toBe('RESOURCE_CONFLICT');
      }
      // One membership per user: the losers' memberships were rolled back with their user.
      const group = await manage(any(), 'GET', '/groups/racers');
      expect(group.body.members).toEqual(['racer-0', 'racer-1']);
    },
    SLOW_TIMEOUT,
  );

  it('same-name creates of a group: exactly one 201, the rest 409 RESOURCE_CONFLICT', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const name = `crowd-${round}`;
      const results = await race(nodes, (i) => [
        'POST',
        '/groups',
        { name, privileges: i % 2 ? ['create_service'] : [] },
      ]);
      expect(statuses(results)).toEqual([201, ...Array(PARALLEL - 1).fill(409)]);
      for (const r of results.filter((x) => x.status === 409)) expect(r.body.error.code).toBe('RESOURCE_CONFLICT');
    }
    const groups = (await manage(any(), 'GET', '/groups')).body.groups as { name: string }[];
    expect(groups.filter((g) => g.name.startsWith('crowd-'))).toHaveLength(ROUNDS);
  });

  it('parallel PUTs of one grant are idempotent: every one 200, one grant holding one of the rights sets', async () => {
    expect((await manage(any(), 'POST', '/infrastructures', { name: 'granted' })).status).toBe(201);
    expect((await manage(any(), 'POST', '/services', { name: 'granted-svc' })).status).toBe(201);
    const sets = [['view'], ['view', 'deploy'], ['admin']];
    for (let round = 0; round < ROUNDS; round++) {
      const group = `grantees-${round}`;
      expect((await manage(any(), 'POST', '/groups', { name: group })).status).toBe(201);
      const results = await race(nodes, (i) =>
        i % 2
          ? ['PUT', `/infrastructures/granted/grants/${group}`, { rights: sets[i % sets.length] }]
          : ['PUT', `/services/granted-svc/grants/${group}`, { rights: ['read'] }],
      );
      expect(statuses(results)).toEqual(Array(PARALLEL).fill(200));
      const grants = (await manage(any(), 'GET', '/infrastructures/granted/grants')).body.grants as {
        group: string;
        rights: string[];
      }[];
      const mine = grants.filter((g) => g.group === group);
      expect(mine).toHaveLength(1);
      expect(sets.map((x) => JSON.stringify(x))).toContain(JSON.stringify(mine[0]!.rights));
    }
  });

  it('parallel PUTs of one membership are idempotent: every one 200, the user a member once', async () => {
    expect((await manage(any(), 'POST', '/groups', { name: 'joined' })).status).toBe(201);
    for (let round = 0; round < 2; round++) {
      const username = `joiner-${round}`;
      const made = await manage(any(), 'POST', '/users', { username, password: 'a long enough passphrase' });
      expect(made.status).toBe(201);
      const results = await race(nodes, () => ['PUT', `/groups/joined/members/${username}`]);
      expect(statuses(results)).toEqual(Array(PARALLEL).fill(200));
      expect((await manage(any(), 'GET', `/users/${username}`)).body.groups).toEqual(['joined']);
    }
  });

  it('grants and memberships written while their group is deleted: 200/204 or a clean 404/409, nothing left of the group', async () => {
    expect((await manage(any(), 'POST', '/infrastructures', { name: 'contested-infra' })).status).toBe(201);
    const user = await manage(any(), 'POST', '/users', { username: 'member', password: 'a long enough passphrase' });
    expect(user.status).toBe(201);
    for (let round = 0; round < ROUNDS; round++) {
      const group = `doomed-group-${round}`;
      expect((await manage(any(), 'POST', '/groups', { name: group })).status).toBe(201);
      const results = await race(nodes, (i) =>
        i === PARALLEL / 2
          ? ['DELETE', `/groups/${group}`]
          : i % 2
            ? ['PUT', `/infrastructures/contested-infra/grants/${group}`, { rights: ['view'] }]
            : ['PUT', `/groups/${group}/members/member`],
      );
      for (const r of results) expect([200, 204, 404, 409]).toContain(r.status);
      expect(results.filter((r) => r.status === 204)).toHaveLength(1);
      const grants = (await manage(any(), 'GET', '/infrastructures/contested-infra/grants')).body.grants as {
        group: string;
      }[];
      expect(grants.map((g) => g.group)).not.toContain(group);
      expect((await manage(any(), 'GET', '/users/member')).body.groups).not.toContain(group);
    }
  });
  it('signed-in users (session touches, permission loads, audit records) beside write transactions: every request answers', async () => {
    expect(
      (await manage(any(), 'POST', '/groups', { name: 'busy-creators', privileges: ['create_service'] })).status,
    ).toBe(201);
    const token = await userWithSession(any(), 'busy-user', ['busy-creators']);
    for (let round = 0; round < ROUNDS; round++) {
      const results = await Promise.all(
        Array.from({ length: PARALLEL }, (_, i) => {
          const node = nodes[i % nodes.length]!;
          const name = `busy-${round}-${i}`;
          switch (i % 4) {
            case 0: // a write transaction with the node key
              return api(node, node.keys.management, 'POST', '/deployments', { name, upstream: upstream.url });
            case 1: // a read: session touch and permission load
              return api(node, token, 'GET', '/services');
            case 2: // a write transaction that records the user as owner
              return api(node, token, 'POST', '/services', { name });
            default: // a denial: an audit record
              return api(node, token, 'POST', '/infrastructures', { name });
          }
        }),
      );
      expect(results.map((r) => r.status)).toEqual(
        Array.from({ length: PARALLEL }, (_, i) => [201, 200, 201, 403][i % 4]),
      );
    }
    // The services the user made are its own: it sees every one of them.
    const mine = (await api(any(), token, 'GET', '/services')).body.services as { name: string }[];
    expect(mine.map((x) => x.name).filter((n) => n.startsWith('busy-'))).toHaveLength((ROUNDS * PARALLEL) / 4);
  });
});
