import type { Config } from '../../config/schema.js';
import type { EventBus } from '../../kernel/event-bus.js';
import type { Topic } from '../../kernel/topics.js';
import { recordChange } from '../../store/change-log.js';
import type { Store } from '../../store/database.js';

/** What the control-plane services need: the store, the master key, the bus, the config. */
export interface ControlContext {
  readonly store: Store;
  readonly masterKey: Buffer;
  readonly bus: EventBus;
  readonly config: Pick<Config, 'basic_auth_username' | 'default_deployment_access'>;
  /**
   * The node's clock (epoch ms), default `Date.now`: what credentials' lifetimes and graces are
   * computed from (platform JWTs, API keys and tokens), so they agree with the verifiers'.
   */
  readonly clock?: () => number;
}

/** Now by the context's clock (epoch ms). */
export function nowMs(ctx: Pick<ControlContext, 'clock'>): number {
  return ctx.clock ? ctx.clock() : Date.now();
}

/**
 * Announces a revoking change: to this process at once (the next request sees it) and, through
 * the store's change log, to every other process (at commit by PostgreSQL NOTIFY, else within
 * one poll). The event carries the change-log id, so a replica of a PostgreSQL cluster waits for
 * the others to apply it before the call returns.
 */
export async function announce(ctx: ControlContext, topic: Topic, subject: string): Promise<void> {
  const seq = await recordChange(ctx.store, topic, subject);
  await ctx.bus.publish({ topic, subject, seq });
}

export function nowIso(): string {
  return new Date().toISOString();
}
