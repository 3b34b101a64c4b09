import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { DesiredSecret } from './schema.js';

/** 4096 characters of up to 4 UTF-8 bytes each, and a newline. */
const MAX_FILE_BYTES = 4096 * 4 + 2;

export interface SecretValues {
  readonly values: ReadonlyMap<string, string>;
  /** What could not be read; never a value. */
  readonly problems: readonly string[];
}

/**
 * Reads the values of the secrets `apply` is about to create, from the environment or a file
 * (relative to `baseDir`, the file's folder). A file's single trailing newline is dropped, as
 * `echo value > file` writes one. Problems name the secret and the source, never a value.
 */
export function readSecretValues(
  secrets: readonly DesiredSecret[],
  environment: { env: Readonly<Record<string, string | undefined>>; baseDir: string },
): SecretValues {
  const values = new Map<string, string>();
  const problems: string[] = [];
  for (const s of secrets) {
    const where = `secrets "${s.name}"`;
    const src = s.source;
    if (src.kind === 'inline') values.set(s.name, src.value);
    else if (src.kind === 'env') {
      const value = environment.env[src.variable];
      if (value === undefined || value === '')
        problems.push(`${where}: environment variable ${src.variable} is not set`);
      else values.set(s.name, value);
    } else if (src.kind === 'file') {
      const path = isAbsolute(src.path) ? src.path : resolve(environment.baseDir, src.path);
      try {
        // Not a regular file (a FIFO, /dev/zero) or far too big: refused before reading, so a
        // hostile file cannot hang or exhaust the CLI.
        const stat = statSync(path);
        if (!stat.isFile()) {
          problems.push(`${where}: ${src.path} is not a regular file`);
          continue;
        }
        if (stat.size > MAX_FILE_BYTES) {
          problems.push(`${where}: file ${src.path} is larger than a secret can be`);
          continue;
        }
        const value = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
        if (value === '') problems.push(`${where}: file ${src.path} is empty`);
        else if (value.length > 4096) problems.push(`${where}: file ${src.path} holds more than 4096 characters`);
        else values.set(s.name, value);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        problems.push(
          `${where}: file ${src.path} cannot be read (${code === 'ENOENT' ? 'no such file' : (code ?? 'error')})`,
        );
      }
    }
  }
  return { values, problems };
}
