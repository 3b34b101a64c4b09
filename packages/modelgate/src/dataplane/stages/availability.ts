import type { Refusal } from '../admission-result.js';
import type { Route } from '../route-table.js';

/**
 * The availability stage: what refuses a routed deployment before any credential is looked at:
 * its settings unreadable right now (503, rather than serve settings that may have been
 * revoked), or disabled.
 *
 * @example
 * ```ts
 * unavailable({ snapshot, enabled: false }); // { code: 'DEPLOYMENT_DISABLED', deployment: 'churn' }
 * ```
 */
export function unavailable(route: Route): Refusal | undefined {
  if (route.stale) {
    return {
      code: 'NOT_READY',
      message: 'The deployment’s settings cannot be read right now',
      deployment: route.snapshot.name,
    };
  }
  return route.enabled ? undefined : { code: 'DEPLOYMENT_DISABLED', deployment: route.snapshot.name };
}
