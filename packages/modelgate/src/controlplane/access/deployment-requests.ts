import type { Principal } from '../../kernel/principal.js';
import { notFound } from '../../kernel/validation.js';
import { services, versions } from '../operations/catalog.js';
import type { ControlContext } from '../operations/context.js';
import { actorOf, authorize, deploymentPlace } from './authorize.js';

/**
 * What creating or changing a deployment asks of a user, beyond `deploy` on the service and the
 * infrastructure: `write` on the service when a missing version would be made. Users cannot have
 * missing infrastructures or services made on the way (only keys can): those are 404 like any
 * name they cannot see. The Basic secret the new revision reads (named by the request or by the
 * version) is asked about where it is read, by `authorizeSecretReference`, after these checks.
 */
export async function authorizeDeploymentWrite(
  ctx: ControlContext,
  principal: Principal,
  request: {
    readonly name: string;
    readonly creating: boolean;
    readonly service?: string;
    readonly infrastructure?: string;
    readonly version?: string;
  },
): Promise<void> {
  if ((await actorOf(ctx, principal)).superuser) return;
  const place = request.creating
    ? { service: request.service ?? request.name, infrastructure: request.infrastructure ?? 'default' }
    : await deploymentPlace(ctx, request.name);
  // Changing a deployment the caller cannot see is the same 404 as a deployment that does not exist.
  const hidden = request.creating ? undefined : notFound('deployment', request.name);
  await authorize(ctx, principal, { deployment: place, right: 'deploy' }, hidden);
  if (request.version !== undefined || request.creating) {
    const service = await services.get(ctx, place.service);
    if (!(await versions.find(ctx, service.id, request.version ?? '1'))) {
      await authorize(ctx, principal, { service: place.service, right: 'write' });
    }
  }
}
