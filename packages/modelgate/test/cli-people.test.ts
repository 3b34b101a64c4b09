import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeProcess, runCliToEnd, startNodeProcess } from './helpers/node-process.js';

/**
 * The people commands against a real node: passwords from stdin (never on the command line),
 * `-o json` on each, and a session credential that works as --api-token until signed out.
 */
let node: NodeProcess;

async function cli(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}) {
  return runCliToEnd([...args, '--endpoint', node.urls.management], { cwd: node.cwd, ...options });
}

beforeAll(async () => {
  node = await startNodeProcess();
});
afterAll(async () => {
  await node?.stop();
});

describe('people commands', () => {
  it('users, groups, grants and sessions, in table and JSON output', async () => {
    const group = await cli(['groups', 'create', 'team', '--privilege', 'create_service', '-o', 'json']);
    expect(group.code, group.all).toBe(0);
    expect(JSON.parse(group.stdout)).toMatchObject({ name: 'team', privileges: ['create_service'] });

    const made = await cli(['users', 'create', 'carol', '--group', 'team'], {
      stdin: 'carol keeps a long passphrase\n',
    });
    expect(made.code, made.all).toBe(0);
    expect(made.stdout).toContain('Created user carol in team');
    expect(made.all).not.toContain('passphrase');

    const weak = await cli(['users', 'create', 'dave'], { stdin: 'password1234\n' });
    expect(weak.code).toBe(1);
    expect(weak.stderr).toContain('PASSWORD_REJECTED');

    const users = JSON.parse((await cli(['users', 'list', '-o', 'json'])).stdout);
    expect(users.items.map((u: { username: string }) => u.username)).toEqual(['carol']);

    const session = await cli(['sessions', 'create', '--username', 'carol'], {
      stdin: 'carol keeps a long passphrase\n',
    });
    expect(session.code, session.all).toBe(0);
    const token = session.stdout.trim();
    expect(token).toMatch(/^mgu_/);

    const who = await cli(['sessions', 'whoami', '-o', 'json', '--api-token', token]);
    expect(JSON.parse(who.stdout)).toMatchObject({ kind: 'user', user: 'carol', groups: ['team'] });

    const svc = await cli(['services', 'create', 'carols', '-o', 'json'], { env: { MODELGATE_API_TOKEN: token } });
    expect(svc.code, svc.all).toBe(0);
    const grants = await cli(['grants', 'list', 'service', 'carols', '-o', 'json', '--api-token', token]);
    expect(JSON.parse(grants.stdout)).toEqual({ owner: 'carol', items: [] });
    const set = await cli([
      'grants',
      'set',
      'service',
      'carols',
      'team',
      '--rights',
      'read,deploy',
      '--api-token',
      token,
    ]);
    expect(set.stdout).toContain('Granted read, deploy on service carols to team');
    // Only the three resource types: an object's inherited key is no type.
    for (const type of ['services', 'constructor', '__proto__']) {
      const bad = await cli(['grants', 'list', type, 'carols', '--api-token', token]);
      expect(bad.code, bad.all).toBe(2);
      expect(bad.stderr).toContain('CLI_USAGE');
    }

    const out = await cli(['sessions', 'delete', '--api-token', token]);
    expect(out.code, out.all).toBe(0);
    const after = await cli(['services', 'list', '--api-token', token]);
    expect(after.code).toBe(1);
    expect(after.stderr).toContain('401');
  }, 60_000);
});

describe('users set-password and reset-password (issue 17)', () => {
  const old = 'dana keeps a long passphrase';
  const next = 'dana has a newer passphrase';
  const signInCode = async (password: string) =>
    (await cli(['sessions', 'create', '--username', 'dana'], { stdin: `${password}\n` })).code;

  it('set-password needs the current password; reset-password is an admin’s, for someone else', async () => {
    expect((await cli(['users', 'create', 'dana'], { stdin: `${old}\n` })).code).toBe(0);
    const token = (await cli(['sessions', 'create', '--username', 'dana'], { stdin: `${old}\n` })).stdout.trim();
    const as = (args: string[], stdin?: string) =>
      cli([...args, '--api-token', token], stdin === undefined ? {} : { stdin });

    const missing = await as(['users', 'set-password', 'dana'], `\n${next}\n`);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no current password given');
    const wrong = await as(['users', 'set-password', 'dana'], `not the password at all\n${next}\n`);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('CURRENT_PASSWORD_WRONG');
    const other = await as(['users', 'set-password', 'carol'], `${old}\n${next}\n`);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('modelgate users reset-password carol');
    expect(await signInCode(old)).toBe(0);

    const changed = await as(['users', 'set-password', 'dana', '-o', 'json'], `${old}\n${next}\n`);
    expect(changed.code, changed.all).toBe(0);
    expect(JSON.parse(changed.stdout)).toEqual({ username: 'dana', password_changed: true });
    expect(changed.all).not.toContain('passphrase');
    expect(await signInCode(old)).toBe(1);
    expect(await signInCode(next)).toBe(0);

    // The management key (./key_file.json) resets it without the current one.
    const reset = await cli(['users', 'reset-password', 'dana'], { stdin: `${old}\n` });
    expect(reset.code, reset.all).toBe(0);
    expect(reset.stdout).toContain('Password reset for dana; all its sessions ended');
    expect(await signInCode(next)).toBe(1);
    expect(await signInCode(old)).toBe(0);
  }, 60_000);
});
