import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dataDirProblem, keyFileProblem } from '../src/store/secrets/trusted-file.js';
import { EPHEMERAL_PORTS, runCli, startNodeProcess, tempDir } from './helpers/node-process.js';
import { createScratchDatabase } from './helpers/postgres.js';

// Tests run as root, which bypasses permission checks: a foreign owner is made with chown.
const OTHER_UID = 65534;
const GOOD_KEY = `${Buffer.alloc(32, 7).toString('base64')}\n`;

/** A working directory with `data/` (0700) and, when asked, a prepared `data/master.key`. */
function setup(): { cwd: string; data: string; key: string } {
  const cwd = tempDir();
  const data = join(cwd, 'data');
  mkdirSync(data, { mode: 0o700 });
  return { cwd, data, key: join(data, 'master.key') };
}

function writeKey(path: string, mode = 0o600): void {
  writeFileSync(path, GOOD_KEY, { mode });
  chmodSync(path, mode);
}

/** Runs `modelgate start` to its exit; a refusing node exits by itself. */
async function startExpectingRefusal(
  cwd: string,
  data: string,
  extra: readonly string[] = [],
): Promise<{ code: number | string; output: string }> {
  const proc = runCli(['start', ...EPHEMERAL_PORTS, '--data-dir', data, ...extra], { cwd });
  // 'close' comes after every output line has been read.
  await new Promise((res) => proc.child.on('close', res));
  return { code: await proc.exited, output: proc.output() };
}

/** The node refused with FILE_UNSAFE on one line naming `file` and the fix, and never started. */
function expectRefusal(result: { code: number | string; output: string }, file: string, fix: RegExp): void {
  expect(result.code).toBe(1);
  const line = result.output.split('\n').find((l) => l.includes('[FILE_UNSAFE]'));
  expect(line, result.output).toBeDefined();
  expect(line).toContain(file);
  expect(line).toMatch(fix);
  expect(result.output).not.toMatch(/modelgate started|\[INTERNAL\]/);
}

describe('master.key that could have been planted is refused at start (exit 1, FILE_UNSAFE)', () => {
  it('a symlink to a real, well-formed key file owned by the node user', async () => {
    const { cwd, data, key } = setup();
    const elsewhere = join(cwd, 'elsewhere.key');
    writeKey(elsewhere);
    symlinkSync(elsewhere, key);
    expectRefusal(await startExpectingRefusal(cwd, data), key, /symbolic link; remove the link/);
    // The target was neither read into use nor changed.
    expect(readFileSync(elsewhere, 'utf8')).toBe(GOOD_KEY);
  });

  it('a dangling symlink (never an internal error, never creates the target)', async () => {
    const { cwd, data, key } = setup();
    const target = join(cwd, 'not-there.key');
    symlinkSync(target, key);
    expectRefusal(await startExpectingRefusal(cwd, data), key, /symbolic link/);
    expect(() => statSync(target)).toThrow();
  });

  it('a symlink to /dev/null and a relative symlink', async () => {
    for (const target of ['/dev/null', '../elsewhere.key']) {
      const { cwd, data, key } = setup();
      writeKey(join(cwd, 'elsewhere.key'));
      symlinkSync(target, key);
      expectRefusal(await startExpectingRefusal(cwd, data), key, /symbolic link/);
    }
  });

  it('owned by another user, even with mode 0600', async () => {
    const { cwd, data, key } = setup();
    writeKey(key);
    chownSync(key, OTHER_UID, OTHER_UID);
    expectRefusal(await startExpectingRefusal(cwd, data), key, new RegExp(`uid ${OTHER_UID}.*run: chown`));
  });

  it.each(['0644', '0640', '0604', '0620', '0602', '0666'])('mode %s', async (mode) => {
    const { cwd, data, key } = setup();
    writeKey(key, Number.parseInt(mode, 8));
    expectRefusal(await startExpectingRefusal(cwd, data), key, new RegExp(`run: chmod 600 ${key}`));
  });

  it('a directory or a FIFO in its place (a FIFO must not hang the start)', async () => {
    const dir = setup();
    mkdirSync(dir.key, { mode: 0o700 });
    expectRefusal(await startExpectingRefusal(dir.cwd, dir.data), dir.key, /not a regular file/);
    const fifo = setup();
    execFileSync('mkfifo', ['-m', '600', fifo.key]);
    expectRefusal(await startExpectingRefusal(fifo.cwd, fifo.data), fifo.key, /not a regular file/);
  });
});

describe('a data directory others could write to is refused (exit 1, FILE_UNSAFE)', () => {
  it.each(['0777', '0770', '0702', '0720', '1777'])('mode %s, with or without a key file inside', async (mode) => {
    for (const withKey of [false, true]) {
      const { cwd, data, key } = setup();
      if (withKey) writeKey(key);
      chmodSync(data, Number.parseInt(mode, 8));
      expectRefusal(await startExpectingRefusal(cwd, data), data, new RegExp(`run: chmod 700 ${data}`));
    }
  });

  it('owned by another user', async () => {
    const { cwd, data } = setup();
    chownSync(data, OTHER_UID, OTHER_UID);
    expectRefusal(await startExpectingRefusal(cwd, data), data, /run: chown/);
  });

  it('a planted symlink in place of the SQLite database', async () => {
    const { cwd, data } = setup();
    const victim = join(cwd, 'victim.db');
    writeFileSync(victim, 'precious');
    symlinkSync(victim, join(data, 'modelgate.sqlite'));
    expectRefusal(await startExpectingRefusal(cwd, data), join(data, 'modelgate.sqlite'), /symbolic link/);
    expect(readFileSync(victim, 'utf8')).toBe('precious');
  });
});

describe('on PostgreSQL the data directory still holds master.key', () => {
  it('a planted key or a world-writable directory is refused; with MODELGATE_MASTER_KEY the directory is not used', async () => {
    const db = await createScratchDatabase();
    try {
      const linked = setup();
      writeKey(join(linked.cwd, 'elsewhere.key'));
      symlinkSync(join(linked.cwd, 'elsewhere.key'), linked.key);
      expectRefusal(
        await startExpectingRefusal(linked.cwd, linked.data, ['--database-url', db.url]),
        linked.key,
        /symbolic link/,
      );

      const open = setup();
      chmodSync(open.data, 0o777);
      expectRefusal(
        await startExpectingRefusal(open.cwd, open.data, ['--database-url', db.url]),
        open.data,
        /chmod 700/,
      );

      const node = await startNodeProcess(['--data-dir', open.data, '--database-url', db.url], {
        cwd: open.cwd,
        env: { MODELGATE_MASTER_KEY: 'ab'.repeat(32) },
      });
      expect((await fetch(`${node.urls.management}/_health/ready`)).status).toBe(200);
      expect(await node.stop()).toBe(0);
    } finally {
      await db.drop();
    }
  });
});

describe('a good setup still starts', () => {
  it('an existing 0600 key in a 0700 directory, both the node user’s: used as is', async () => {
    const { cwd, data, key } = setup();
    writeKey(key);
    const node = await startNodeProcess(['--data-dir', data], { cwd });
    expect(await node.stop()).toBe(0);
    expect(readFileSync(key, 'utf8')).toBe(GOOD_KEY);
  });

  it('a read-only 0400 key and a group-readable 0750 data directory are accepted', async () => {
    const { cwd, data, key } = setup();
    const first = await startNodeProcess(['--data-dir', data], { cwd });
    expect(await first.stop()).toBe(0);
    chmodSync(key, 0o400);
    chmodSync(data, 0o750);
    const node = await startNodeProcess(['--data-dir', data], { cwd });
    expect(await node.stop()).toBe(0);
  });

  it('a fresh data directory is created 0700 with a 0600 key, and the next start accepts them', async () => {
    const cwd = tempDir();
    const data = join(cwd, 'fresh', 'data');
    for (let i = 0; i < 2; i++) {
      const node = await startNodeProcess(['--data-dir', data], { cwd });
      expect(await node.stop()).toBe(0);
    }
    expect(statSync(data).mode & 0o777).toBe(0o700);
    const key = lstatSync(join(data, 'master.key'));
    expect(key.isFile()).toBe(true);
    expect(key.mode & 0o777).toBe(0o600);
  });
});

describe('key_file.json: a planted symlink is replaced, never written through', () => {
  it.each(['victim file', 'dangling'])('symlink to a %s', async (kind) => {
    const { cwd, data } = setup();
    const victim = join(cwd, 'victim.txt');
    if (kind === 'victim file') writeFileSync(victim, 'precious', { mode: 0o644 });
    const keyFile = join(cwd, 'key_file.json');
    symlinkSync(victim, keyFile);
    const node = await startNodeProcess(['--data-dir', data], { cwd });
    const written = lstatSync(keyFile);
    expect(written.isSymbolicLink()).toBe(false);
    expect(written.mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(keyFile, 'utf8')).management.key).toMatch(/^mg/);
    if (kind === 'victim file') expect(readFileSync(victim, 'utf8')).toBe('precious');
    else expect(() => lstatSync(victim)).toThrow();
    expect(await node.stop()).toBe(0);
    if (kind === 'victim file') expect(readFileSync(victim, 'utf8')).toBe('precious');
  });
});

describe('the rules, as pure functions', () => {
  const file = (mode: number, uid = 1000) => ({ kind: 'file' as const, uid, mode });
  const dir = (mode: number, uid = 1000) => ({ kind: 'directory' as const, uid, mode });

  it.each([
    [file(0o600), undefined],
    [file(0o400), undefined],
    [file(0o700), undefined],
    [file(0o4600), undefined],
    [file(0o610), /chmod 600 \/k/],
    [file(0o601), /chmod 600 \/k/],
    [file(0o600, 0), /uid 0, not by the node's user \(uid 1000\); run: chown 1000 \/k/],
    [{ kind: 'symlink' as const, uid: 1000, mode: 0o777 }, /symbolic link/],
    [{ kind: 'other' as const, uid: 1000, mode: 0o600 }, /not a regular file/],
    [dir(0o600), /not a regular file/],
  ])('key file %j', (facts, expected) => {
    const problem = keyFileProblem(facts, 1000, '/k');
    if (expected === undefined) expect(problem).toBeUndefined();
    else expect(problem).toMatch(expected);
  });

  it.each([
    [dir(0o700), undefined],
    [dir(0o755), undefined],
    [dir(0o750), undefined],
    [dir(0o770), /mode 0770\); run: chmod 700 \/d/],
    [dir(0o1777), /mode 0777\); run: chmod 700 \/d/],
    [dir(0o700, 65534), /run: chown 1000 \/d/],
    [file(0o700), /not a directory/],
  ])('data directory %j', (facts, expected) => {
    const problem = dataDirProblem(facts, 1000, '/d');
    if (expected === undefined) expect(problem).toBeUndefined();
    else expect(problem).toMatch(expected);
  });

  it('without uids (Windows) only the kind of file is checked', () => {
    expect(keyFileProblem(file(0o666, 0), -1, '/k')).toBeUndefined();
    expect(keyFileProblem({ kind: 'symlink', uid: 0, mode: 0o666 }, -1, '/k')).toMatch(/symbolic link/);
    expect(dataDirProblem(dir(0o777, 0), -1, '/d')).toBeUndefined();
  });
});
