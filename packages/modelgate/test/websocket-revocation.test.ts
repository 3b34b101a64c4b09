import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { OpenRelays } from '../src/dataplane/relays.js';
import { TOPICS } from '../src/kernel/topics.js';
import { STORE_BACKENDS } from './helpers/backends.js';
import { deploy, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { api, userWithSession } from './helpers/people.js';
import { closed, echo, openRelay } from './helpers/relays.js';
import { type TestUpstream, websocketUpstream } from './helpers/upstreams.js';

/**
 * An open WebSocket relay was checked once, at its handshake: every change that would refuse a
 * new handshake must close it too. Rolled credentials (X2) close their relays when they retire
 * (at once without a grace) while the successor's stay open; a change to a token owner's access
 * closes the relays the token may no longer open, by the gateway's own decision. Real sockets, a
 * real upstream WebSocket server, on SQLite and PostgreSQL.
 */
describe.each(STORE_BACKENDS)('open WebSocket relays on $name', (backend) => {
  let t: TestNode;
  let upstream: TestUpstream;
  let drop: () => Promise<void>;
  const opened: WebSocket[] = [];

  beforeAll(async () => {
    const store = await backend.setup();
    drop = store.drop;
    t = await startTestNode({ ...store.overrides, failure_limit: '1000' });
    upstream = await websocketUpstream();
    const m = t.keys.management;
    await deploy(t, { name: 'chat', upstream: upstream.url, access: 'protected', infrastructure: 'dev', api_keys: 0 });
    expect((await api(t, m, 'POST', '/groups', { name: 'readers' })).status).toBe(201);
    for (const [path, rights] of [
      ['/infrastructures/dev/grants/readers', ['view']],
      ['/services/chat/grants/readers', ['read']],
    ] as const) {
      expect((await api(t, m, 'PUT', path, { rights })).status).toBeLessThan(300);
    }
  });
  afterEach(() => {
    for (const socket of opened.splice(0)) socket.terminate();
  });
  afterAll(async () => {
    await t?.close();
    await upstream?.close();
    await drop?.();
  });

  /** Opens a relay to `chat` with a credential; rejects when the handshake is refused. */
  const open = (credential: string) =>
    openRelay(`${t.node.urls.inference.replace('http', 'ws')}/chat/socket`, credential, opened);
  const newKey = async () => {
    const res = await api(t, t.keys.management, 'POST', '/api-keys', { deployment: 'chat' });
    expect(res.status, res.text).toBe(201);
    return res.body.api_keys[0] as { id: string; key: string };
  };
  const rollKey = async (id: string, grace_seconds: number) => {
    const res = await api(t, t.keys.management, 'POST', `/api-keys/${id}/roll`, { grace_seconds });
    expect(res.status, res.text).toBe(201);
    return res.body as { key: string; predecessor: { retires_at: string } };
  };
  const newToken = async (session: string, name: string) => {
    const res = await api(t, session, 'POST', '/tokens', { name, endpoint_access: { all: true } });
    expect(res.status, res.text).toBe(201);
    return res.body as { id: string; token: string };
  };

  it('a rolled API key: the old key’s relay stays open through the grace and closes when the key retires; the new key’s stays open', async () => {
    const graceful = await newKey();
    const kept = await open(graceful.key);
    const rolledWithGrace = await rollKey(graceful.id, 3600);
    // The roll answered only once this process applied it: the relay was re-checked, and kept.
    expect(await echo(kept, 'during the grace')).toBe('echo:during the grace');

    const old = await newKey();
    const cut = await open(old.key);
    expect(await echo(cut, 'before')).toBe('echo:before');
    const rolled = await rollKey(old.id, 0);
    await closed(cut);
    const successor = await open(rolled.key);
    expect(await echo(successor, 'after')).toBe('echo:after');
    expect(await echo(kept, 'still')).toBe('echo:still');
    expect(await echo(await open(rolledWithGrace.key), 'new')).toBe('echo:new');
  });

  it('a rolled API token: relays opened with it before and during the grace close when it retires; the successor’s stays open', async () => {
    const rita = await userWithSession(t, 'rita', ['readers']);
    const old = await newToken(rita, 'ci');
    const before = await open(old.token);
    const res = await api(t, rita, 'POST', `/tokens/${old.id}/roll`, { grace_seconds: 4 });
    expect(res.status, res.text).toBe(201);
    // Still in its grace (unless the machine is slower than four seconds): the handshake passes.
    const during = await open(old.token);
    const successor = await open(res.body.token);
    await Promise.all([closed(before), closed(during)]);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(res.body.predecessor.retires_at));
    expect(await echo(successor, 'after')).toBe('echo:after');
  });

  it('an access change re-checks the relays of the owner’s tokens: closed when refused, kept when still allowed', async () => {
    const m = t.keys.management;
    const wendy = await userWithSession(t, 'wendy', ['readers']);
    const xavier = await userWithSession(t, 'xavier', ['readers']);
    const wendys = await open((await newToken(wendy, 'w')).token);
    const xaviers = await open((await newToken(xavier, 'x')).token);
    const keyed = await open((await newKey()).key);

    // Wendy leaves the group that let her read `chat`: her token's relay closes, nobody else's.
    expect((await api(t, m, 'DELETE', '/groups/readers/members/wendy')).status).toBeLessThan(300);
    await closed(wendys);
    expect(await echo(xaviers, 'kept')).toBe('echo:kept');

    // A change for everyone that still lets Xavier read: kept. One that does not: closed.
    expect((await api(t, m, 'PUT', '/services/chat/grants/readers', { rights: ['write'] })).status).toBeLessThan(300);
    expect(await echo(xaviers, 'write includes read')).toBe('echo:write includes read');
    expect((await api(t, m, 'DELETE', '/services/chat/grants/readers')).status).toBeLessThan(300);
    await closed(xaviers);
    // An API key answers to no user's access.
    expect(await echo(keyed, 'key')).toBe('echo:key');
    expect((await api(t, m, 'PUT', '/services/chat/grants/readers', { rights: ['read'] })).status).toBeLessThan(300);
  });

  it('disabling or deleting a token’s owner closes the token’s relays', async () => {
    const m = t.keys.management;
    const yvonne = await userWithSession(t, 'yvonne', ['readers']);
    const zack = await userWithSession(t, 'zack', ['readers']);
    const disabled = await open((await newToken(yvonne, 'y')).token);
    const deleted = await open((await newToken(zack, 'z')).token);
    expect((await api(t, m, 'POST', '/users/yvonne/disable')).status).toBe(200);
    await closed(disabled);
    expect(await echo(deleted, 'still')).toBe('echo:still');
    expect((await api(t, m, 'DELETE', '/users/zack')).status).toBe(204);
    await closed(deleted);
  });
});

/**
 * A handshake admitted with a credential read just before a change (a store read in flight when
 * the key was deleted or rolled) becomes a relay after the change was applied to the open ones:
 * the changes it missed are applied to it when it is added. Real TCP sockets; the gateway's
 * decisions are stood in for, so the race is forced rather than waited for.
 */
describe('a relay answers to the changes that arrived while its handshake was admitted', () => {
  let server: Server;
  let port: number;
  const accepted: Socket[] = [];

  beforeAll(async () => {
    server = createServer((socket) => accepted.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    for (const socket of accepted) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  /** A connected pair (made one at a time): the gateway's side, tracked as the relay, and the caller's. */
  const pair = async (): Promise<{ gateway: Socket; caller: Socket }> => {
    const next = once(server, 'connection') as Promise<[Socket]>;
    const caller = connect(port, '127.0.0.1');
    const [gateway] = await next;
    return { gateway, caller };
  };
  const closed = (socket: Socket) => new Promise<void>((resolve) => socket.once('close', () => resolve()));

  it('a key deleted, or rolled without a grace, during admission closes the relay; an unrelated change does not', async () => {
    const refused = { denied: 'expired' } as const;
    const relays = new OpenRelays(
      {
        jwtRevoked: async () => false,
        recheck: async (relay) => (relay.principal.id === 'key_rolled' ? refused : relay.principal),
      },
      pino({ level: 'silent' }),
    );
    const cases = [
      { id: 'key_deleted', event: { topic: TOPICS.apiKeyDeleted, subject: 'key_deleted' } },
      { id: 'key_rolled', event: { topic: TOPICS.apiKeyRolled, subject: 'key_rolled' } },
    ];
    for (const c of cases) {
      const { gateway, caller } = await pair();
      const missed = relays.watch();
      await relays.changed(c.event);
      relays.add(gateway, { deployment: 'chat', principal: { kind: 'api_key', id: c.id }, requestId: c.id }, missed);
      await closed(caller);
    }
    const { gateway, caller } = await pair();
    const missed = relays.watch();
    await relays.changed({ topic: TOPICS.apiKeyDeleted, subject: 'key_other' });
    relays.add(
      gateway,
      { deployment: 'chat', principal: { kind: 'api_key', id: 'key_kept' }, requestId: 'kept' },
      missed,
    );
    expect(relays.size).toBe(1);
    const received = once(caller, 'data') as Promise<[Buffer]>;
    gateway.write('still open');
    expect(String((await received)[0])).toBe('still open');
    caller.destroy();
  });
});
