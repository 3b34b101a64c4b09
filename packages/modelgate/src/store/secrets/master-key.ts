import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ModelgateError } from '../../kernel/errors.js';
import { createPrivateFile } from './private-file.js';
import { ensurePrivateDir, readTrustedKeyFile } from './trusted-file.js';

export const MASTER_KEY_ENV = 'MODELGATE_MASTER_KEY';
export const MASTER_KEY_FILE = 'master.key';

/**
 * The 32-byte key that seals secrets and revealable API keys. `MODELGATE_MASTER_KEY` (64 hex
 * characters or base64 of 32 bytes) wins, so replicas sharing PostgreSQL share it; otherwise a
 * key file is created once in the data directory with mode 0600. It is a secret, not a config
 * key, so the variable is read whatever `enable_envvars_config` says. The file and its directory
 * must be the node user's alone (see `trusted-file.ts`); otherwise start-up fails with `FILE_UNSAFE`.
 */
export function loadMasterKey(dataDir: string, env: Readonly<Record<string, string | undefined>>): Buffer {
  return openMasterKey(dataDir, env).key;
}

/**
 * {@link loadMasterKey}, also saying whether this call created the key file: a start that fails
 * after it (a replica whose store was sealed under another key) removes it again, so the next
 * start does not silently reuse a key that opens nothing.
 */
export function openMasterKey(
  dataDir: string,
  env: Readonly<Record<string, string | undefined>>,
): { key: Buffer; created?: string } {
  const given = env[MASTER_KEY_ENV];
  if (given !== undefined && given !== '') {
    const key = decodeKey(given.trim());
    if (!key) {
      throw new ModelgateError('CONFIG_INVALID', `${MASTER_KEY_ENV} must be 64 hex characters or base64 of 32 bytes`);
    }
    return { key };
  }
  const path = join(dataDir, MASTER_KEY_FILE);
  let created: string | undefined;
  ensurePrivateDir(dataDir);
  let text = readTrustedKeyFile(path, 'master key file');
  if (text === undefined) {
    try {
      createPrivateFile(path, `${randomBytes(32).toString('base64')}\n`);
      created = path;
    } catch (err) {
      // Another process created it first (or something was planted): read and check theirs.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    text = readTrustedKeyFile(path, 'master key file') ?? '';
  }
  const key = decodeKey(text.trim());
  if (!key) throw new ModelgateError('CONFIG_INVALID', `The master key file ${path} is corrupt`);
  return created ? { key, created } : { key };
}

function decodeKey(text: string): Buffer | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/]{43}=?$/.test(text)) {
    const key = Buffer.from(text, 'base64');
    if (key.length === 32) return key;
  }
  return undefined;
}
