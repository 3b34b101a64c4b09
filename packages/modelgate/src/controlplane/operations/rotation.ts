import { ModelgateError } from '../../kernel/errors.js';
import { graceProblem } from '../../kernel/rotation.js';
import type { Topic } from '../../kernel/topics.js';
import { announce, type ControlContext, nowMs } from './context.js';
import { transact } from './transaction.js';

/** The 409 for rolling a credential that was rolled already: roll its successor instead. */
export function alreadyRolled(what: string, id: string): ModelgateError {
  return new ModelgateError(
    'CREDENTIAL_ALREADY_ROLLED',
    `The ${what} "${id}" was rolled already; roll its successor, or delete it to end it now`,
  );
}

/** What differs between rolling one kind of credential and another (API keys, API tokens). */
export interface RollSteps<Old extends { readonly id: string; readonly retires_at: string | null }, Made> {
  /** `API key`, `API token`: for the 409 of a credential rolled already. */
  readonly what: string;
  /** Announced with the old credential's id, so every cache reloads it with its retirement. */
  readonly topic: Topic;
  /** The credential by id, locked until commit (or the ordinary 404). */
  lock(tx: ControlContext, id: string): Promise<Old>;
  /** Epoch ms from which the old credential is refused (may refuse the roll by throwing). */
  retiresAt(old: Old, now: number, graceMs: number): number;
  /** Stores the old credential's retirement and its successor; answers the successor. */
  succeed(tx: ControlContext, old: Old, retiresAt: string, now: number): Promise<Made>;
}

/**
 * Rolls a credential (X2): one transaction that retires the old one after `graceSeconds` and
 * makes its successor, then tells every process. A credential rolled already is a 409; the
 * grace is checked first (`VALIDATION_FAILED`).
 *
 * @example
 * ```ts
 * const rolled = await rollCredential(ctx, id, 60, API_KEY_ROLL);
 * rolled.predecessor.retires_at; // the old key works until then
 * ```
 */
export async function rollCredential<Old extends { readonly id: string; readonly retires_at: string | null }, Made>(
  ctx: ControlContext,
  id: string,
  graceSeconds: unknown,
  steps: RollSteps<Old, Made>,
): Promise<Made & { predecessor: { id: string; retires_at: string } }> {
  const problem = graceProblem(graceSeconds);
  if (problem) throw new ModelgateError('VALIDATION_FAILED', problem, { details: [problem], field: 'grace_seconds' });
  return transact(ctx, async (tx) => {
    const old = await steps.lock(tx, id);
    if (old.retires_at !== null) throw alreadyRolled(steps.what, old.id);
    const now = nowMs(tx);
    const retiresAt = new Date(steps.retiresAt(old, now, (graceSeconds as number) * 1000)).toISOString();
    const made = await steps.succeed(tx, old, retiresAt, now);
    await announce(tx, steps.topic, old.id);
    return { ...made, predecessor: { id: old.id, retires_at: retiresAt } };
  });
}
