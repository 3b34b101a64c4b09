import type { RequestHead } from '../../http/request-head.js';
import type { Refusal } from '../admission-result.js';
import { hostDeployment, splitHostRoutedPath, splitInferencePath } from '../path.js';
import type { Route, RouteTable } from '../route-table.js';

/** A request target the gateway routed to a known deployment. */
export interface Routed {
  readonly route: Route;
  readonly deployment: string;
  /** The path and query the upstream gets. */
  readonly rest: string;
  /** Routed by `<deployment>.<base_domain>` rather than by the first path segment. */
  readonly hostRouted: boolean;
}

/**
 * The route stage: the deployment a request is for (by `<deployment>.<base_domain>` when
 * `baseDomain` is set and the Host matches, else by the first path segment) and its route in the
 * table; a refusal for a malformed path or an unknown deployment.
 *
 * @example
 * ```ts
 * const routed = routeRequest(req, routes, ''); // GET /churn/predict → { deployment: 'churn', rest: '/predict', ... }
 * ```
 */
export function routeRequest(req: RequestHead, routes: RouteTable, baseDomain: string): Routed | Refusal {
  const url = req.url ?? '/';
  if (baseDomain) {
    const name = hostDeployment(req.headers.host, baseDomain);
    if (name !== undefined) {
      const split = splitHostRoutedPath(url);
      return split.ok ? routed(routes, name, split.rest, true) : { code: split.code };
    }
  }
  const split = splitInferencePath(url);
  return split.ok ? routed(routes, split.deployment, split.rest, false) : { code: split.code };
}

function routed(routes: RouteTable, deployment: string, rest: string, hostRouted: boolean): Routed | Refusal {
  const route = routes.get(deployment);
  // Built field by field: a spread copy here was allocated so that every request's routing
  // result survived into the old generation (measured with the sampling heap profiler).
  return route ? { route, deployment, rest, hostRouted } : { code: 'DEPLOYMENT_NOT_FOUND' };
}
