import { userInfo } from 'node:os';
import { type ErrorCode, ModelgateError } from '../../kernel/errors.js';
import { insertAuditRecords } from '../../store/audit.js';
import type { AuditRecord } from '../../store/audit-record.js';
import type { Store } from '../../store/database.js';
import { safeName } from './action.js';

/** What a CLI command that works on the store directly did, for its audit record. */
export interface CliAction {
  /** `admin_key.create`, ... */
  readonly action: string;
  readonly targetKind: string;
  /** The target named on the command line (checked by `safeName`), when known before running. */
  readonly targetName?: string;
}

/**
 * Runs a store command and appends its audit record (listener `cli`), whether it succeeded or
 * failed. The actor is the operating-system user: the CLI has no credential, only access to the
 * store. The body returns the id of what it touched, which replaces the given target name.
 *
 * @example
 * ```ts
 * const created = await auditedCliCommand(store, { action: 'admin_key.create', targetKind: 'admin_key' },
 *   async () => { const k = await createAdminKey(store); return { result: k, targetName: k.id }; });
 * ```
 */
export async function auditedCliCommand<T>(
  store: Store,
  action: CliAction,
  body: () => Promise<{ result: T; targetName?: string }>,
): Promise<T> {
  try {
    const done = await body();
    await insertAuditRecords(store, [cliRecord(action, done.targetName ?? action.targetName)]);
    return done.result;
  } catch (err) {
    const failure = err instanceof ModelgateError ? err : { code: 'INTERNAL' as const, exitCode: 1 };
    // The command's own error is what the user must see, not a failure to record it.
    await insertAuditRecords(store, [cliRecord(action, action.targetName, failure)]).catch(() => {});
    throw err;
  }
}

/** The record of one CLI command; `status` is its exit status (0 = done). */
export function cliRecord(
  action: CliAction,
  targetName: string | undefined,
  failure?: { readonly code: ErrorCode; readonly exitCode: number },
): AuditRecord {
  return {
    time: new Date().toISOString(),
    actor: osUser(),
    actor_kind: 'os_user',
    action: action.action,
    target_kind: action.targetKind,
    target_name: targetName === undefined ? null : safeName(targetName),
    outcome: failure === undefined ? 'allowed' : 'failed',
    status: failure === undefined ? 0 : failure.exitCode,
    code: failure?.code ?? null,
    request_id: null,
    client_address: null,
    listener: 'cli',
  };
}

function osUser(): string {
  try {
    return safeName(userInfo().username);
  } catch {
    return 'unknown';
  }
}
