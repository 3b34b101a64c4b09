import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  type Stats,
  statSync,
} from 'node:fs';
import { ModelgateError } from '../../kernel/errors.js';

/** What a trusted path is, as far as the permission rules care. */
export interface FileFacts {
  readonly kind: 'file' | 'directory' | 'symlink' | 'other';
  readonly uid: number;
  readonly mode: number;
}

/**
 * Why a key file may not be trusted, or undefined when it may: it must be a regular file owned
 * by the node's user (`uid`; negative where there are no uids) and readable or writable by
 * nobody else (mode 0600 or stricter).
 *
 * @example
 * ```ts
 * keyFileProblem({ kind: 'file', uid: 1000, mode: 0o644 }, 1000, '/data/master.key');
 * // 'is readable or writable by others (mode 0644); run: chmod 600 /data/master.key'
 * ```
 */
export function keyFileProblem(facts: FileFacts, uid: number, path: string): string | undefined {
  if (facts.kind === 'symlink') return `is a symbolic link; remove the link and put the real file at ${path}`;
  if (facts.kind !== 'file') return `is not a regular file; remove it or point the node at a regular file`;
  if (uid < 0) return undefined;
  if (facts.uid !== uid) {
    return `is owned by uid ${facts.uid}, not by the node's user (uid ${uid}); run: chown ${uid} ${path}`;
  }
  if ((facts.mode & 0o077) !== 0) {
    return `is readable or writable by others (mode ${octal(facts.mode)}); run: chmod 600 ${path}`;
  }
  return undefined;
}

/**
 * Why a data directory may not be trusted, or undefined when it may: it must be a directory owned
 * by the node's user that neither group nor others can write (they could plant or swap files).
 */
export function dataDirProblem(facts: FileFacts, uid: number, path: string): string | undefined {
  if (facts.kind !== 'directory') return 'is not a directory';
  if (uid < 0) return undefined;
  if (facts.uid !== uid) {
    return `is owned by uid ${facts.uid}, not by the node's user (uid ${uid}); run: chown ${uid} ${path}`;
  }
  if ((facts.mode & 0o022) !== 0) {
    return `is writable by group or others (mode ${octal(facts.mode)}); run: chmod 700 ${path}`;
  }
  return undefined;
}

/**
 * Reads a key file without following a symbolic link, after checking the opened descriptor
 * (not the path, which could be swapped in between) against {@link keyFileProblem}. Returns
 * undefined when there is no file. Refuses with `FILE_UNSAFE` (exit 1) naming the file and the fix.
 */
export function readTrustedKeyFile(path: string, what: string): string | undefined {
  let fd: number;
  try {
    fd = openNoFollow(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw unsafe(what, path, keyFileProblem(factsOf(lstatSync(path)), uid(), path));
    throw new ModelgateError('FILE_UNSAFE', `Cannot read the ${what} ${path}: ${code ?? String(err)}`);
  }
  try {
    const problem = keyFileProblem(factsOf(fstatSync(fd)), uid(), path);
    if (problem) throw unsafe(what, path, problem);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * Makes sure a directory the node keeps secrets in exists and is the node's alone. A directory
 * the node creates gets mode 0700; one that already exists is checked, never silently chmod-ed,
 * because its looser mode may be someone's deliberate choice the operator must see.
 */
export function ensurePrivateDir(path: string): void {
  let facts: FileFacts;
  try {
    mkdirSync(path, { recursive: true, mode: 0o700 });
    facts = factsOf(statSync(path));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ModelgateError('STORE_UNAVAILABLE', `Cannot create the data directory ${path}: ${code}`);
  }
  const problem = dataDirProblem(facts, uid(), path);
  if (problem) throw unsafe('data directory', path, problem);
}

/**
 * Refuses a path that exists but is not a regular file owned by the node's user (a planted link
 * or device, say). Absent is fine: the caller will create it.
 */
export function assertOwnedRegularFile(path: string, what: string): void {
  let facts: FileFacts;
  try {
    facts = factsOf(lstatSync(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  // Mode is not checked here: the caller tightens it to 0600 itself.
  const problem = keyFileProblem({ ...facts, mode: 0o600 }, uid(), path);
  if (problem) throw unsafe(what, path, problem);
}

function openNoFollow(path: string): number {
  // O_NONBLOCK: a planted FIFO must not hang the start; it is refused as "not a regular file".
  return openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
}

function factsOf(stats: Stats): FileFacts {
  const kind = stats.isSymbolicLink()
    ? 'symlink'
    : stats.isFile()
      ? 'file'
      : stats.isDirectory()
        ? 'directory'
        : 'other';
  return { kind, uid: stats.uid, mode: stats.mode & 0o7777 };
}

function unsafe(what: string, path: string, problem: string | undefined): ModelgateError {
  return new ModelgateError('FILE_UNSAFE', `Refusing the ${what} ${path}: it ${problem ?? 'cannot be trusted'}`);
}

/** The node's user; -1 where the platform has no uids (Windows: owner and mode bits are not checked). */
function uid(): number {
  return process.getuid?.() ?? -1;
}

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}
