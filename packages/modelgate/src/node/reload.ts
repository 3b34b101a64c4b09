import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { Server as HttpsServer } from 'node:https';
import { createSecureContext } from 'node:tls';
import { CONFIG_KEYS, type Config, type ConfigKey } from '../config/schema.js';
import type { TlsFiles } from '../http/listen.js';
import { ModelgateError } from '../kernel/errors.js';
import type { LevelControl } from '../log/level-control.js';
import type { Logger } from '../log/logger.js';

/** What SIGHUP can change in a running node; every other key needs a restart. */
export const RELOADABLE_KEYS: readonly ConfigKey[] = ['log_level', 'certificate_file', 'private_key_file'];

/** The keys whose value changed but only take effect after a restart. */
export function keysNeedingRestart(previous: Config, next: Config): ConfigKey[] {
  return CONFIG_KEYS.filter((key) => !RELOADABLE_KEYS.includes(key) && previous[key] !== next[key]);
}

/**
 * Loads the certificate and key again and installs them on every `https` listener; connections
 * already open keep the old ones. Both files are read and checked together first, so a
 * half-replaced pair (new certificate, old key) changes nothing.
 *
 * @returns how many listeners took the new pair (0 when none is https).
 * @throws ModelgateError `CONFIG_INVALID` when the files cannot be read or do not match.
 */
export function reloadTls(servers: readonly Server[], tls: TlsFiles): number {
  const secure = servers.filter((s): s is HttpsServer => s instanceof HttpsServer);
  if (secure.length === 0) return 0;
  let pair: { cert: Buffer; key: Buffer };
  try {
    pair = { cert: readFileSync(tls.certificateFile), key: readFileSync(tls.privateKeyFile) };
    createSecureContext(pair);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? 'unusable';
    throw new ModelgateError('CONFIG_INVALID', `Cannot use the TLS certificate and key: ${reason}`);
  }
  for (const server of secure) server.setSecureContext(pair);
  return secure.length;
}

/**
 * SIGHUP: reads the configuration again (file, flags, environment) and applies what can change
 * without a restart: the log level, and the TLS certificate and key. A failure is logged and
 * the node keeps running as it was: a reload never stops the node.
 *
 * @returns the configuration now in effect for the reloadable keys.
 */
export function reloadNode(options: {
  readonly current: Config;
  readonly load: () => Config;
  readonly servers: readonly Server[];
  readonly log: Logger;
  readonly levels: LevelControl;
}): Config {
  const { current, log } = options;
  let next: Config;
  try {
    next = options.load();
  } catch (err) {
    log.error(
      { err: err instanceof Error ? err.message : String(err) },
      'reload failed: configuration invalid; nothing changed',
    );
    return current;
  }
  // The summary line is written at the more verbose of the two levels, so it shows either way.
  const quieter = levelValue(log, next.log_level) > levelValue(log, current.log_level);
  if (!quieter) options.levels.set(log, next.log_level);
  let tls = 0;
  try {
    tls = reloadTls(options.servers, { certificateFile: next.certificate_file, privateKeyFile: next.private_key_file });
  } catch (err) {
    log.error({ err: (err as Error).message }, 'reload: TLS certificate and key kept as they were');
    next = { ...next, certificate_file: current.certificate_file, private_key_file: current.private_key_file };
  }
  const restart = keysNeedingRestart(current, next);
  if (restart.length > 0) log.warn({ keys: restart }, 'reload: these changes take effect only after a restart');
  log.info({ log_level: next.log_level, tls_listeners: tls }, 'configuration reloaded');
  if (quieter) options.levels.set(log, next.log_level);
  // Keys that need a restart stay as they were, so the next reload compares against what runs.
  return Object.freeze({
    ...current,
    log_level: next.log_level,
    certificate_file: next.certificate_file,
    private_key_file: next.private_key_file,
  });
}

function levelValue(log: Logger, level: string): number {
  return log.levels.values[level] ?? Number.POSITIVE_INFINITY;
}
