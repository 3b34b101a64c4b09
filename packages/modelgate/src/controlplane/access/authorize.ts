import { type ErrorCode, ModelgateError } from '../../kernel/errors.js';
import { type Actor, type Decision, decide, type MissingRight, type Need } from '../../kernel/permissions.js';
import type { Principal } from '../../kernel/principal.js';
import { notFound } from '../../kernel/validation.js';
import { loadActor } from '../../store/actor.js';
import { type DeploymentPlace, placesQuery } from '../../store/deployment-place.js';
import type { ControlContext } from '../operations/context.js';

/** `service:deploy` → `MISSING_SERVICE_DEPLOY`: the registry code that names the missing right. */
export function missingRightCode(missing: MissingRight): ErrorCode {
  return `MISSING_${missing.replace(':', '_').toUpperCase()}` as ErrorCode;
}

/**
 * The error for a denial. A hidden target is exactly the "does not exist" error (same code,
 * same message), so a caller cannot tell a name it may not read from a free one.
 */
export function denialOf(decision: Exclude<Decision, { allowed: true }>, hiddenAs?: ModelgateError): ModelgateError {
  if (decision.denied === 'hidden') {
    const error = hiddenAs ?? notFound(decision.type, decision.name);
    hiddenDenials.add(error);
    return error;
  }
  return new ModelgateError(missingRightCode(decision.missing), undefined, { details: [decision.missing] });
}

/** 404s that hide a target the caller may not read: the same answer, but the audit log says denied. */
const hiddenDenials = new WeakSet<Error>();

/** Whether an error is a 404 that hides a target from the caller (for the audit log only). */
export function isHiddenDenial(error: unknown): boolean {
  return error instanceof Error && hiddenDenials.has(error);
}

/**
 * Asks the permission module about one request and throws its denial; the routes' only way to
 * authorize. @returns the actor, for filtering what the route answers.
 *
 * @example
 * ```ts
 * await authorize(ctx, req.principal, { service: 'churn', right: 'write' });
 * ```
 */
export async function authorize(
  ctx: ControlContext,
  principal: Principal,
  need: Need,
  hiddenAs?: ModelgateError,
): Promise<Actor> {
  const actor = await loadActor(ctx.store, principal);
  const decision = decide(actor, need);
  if (!decision.allowed) throw denialOf(decision, hiddenAs);
  return actor;
}

/** The caller as permissions see it, for filtering listings with `canSee`. */
export async function actorOf(ctx: ControlContext, principal: Principal): Promise<Actor> {
  return loadActor(ctx.store, principal);
}

/** Where a deployment lives, by name, or the same 404 as for an unknown name. */
export async function deploymentPlace(ctx: ControlContext, name: string): Promise<DeploymentPlace> {
  const row = await placesQuery(ctx.store).where('deployments.name', '=', name).executeTakeFirst();
  if (!row) throw notFound('deployment', name);
  return row;
}

/** Authorizes an action on a named deployment (read = service read ∧ infrastructure view). */
export async function authorizeDeployment(
  ctx: ControlContext,
  principal: Principal,
  name: string,
  right: 'read' | 'deploy',
): Promise<void> {
  if (principal.kind !== 'user') return;
  const place = await deploymentPlace(ctx, name);
  await authorize(ctx, principal, { deployment: place, right }, notFound('deployment', name));
}

/**
 * Authorizes an action on an API key by id: a deployment's key follows the deployment, a
 * version's key follows its service (`read` to list and reveal, `deploy` to create and delete).
 */
export async function authorizeApiKey(
  ctx: ControlContext,
  principal: Principal,
  id: string,
  right: 'read' | 'deploy',
): Promise<void> {
  if (principal.kind !== 'user') return;
  const hidden = new ModelgateError('RESOURCE_NOT_FOUND', `No API key with id "${id}"`);
  const key = await ctx.store.db
    .selectFrom('api_keys')
    .select(['owner_type', 'owner_id'])
    .where('id', '=', id)
    .executeTakeFirst();
  if (!key) throw hidden;
  if (key.owner_type === 'deployment') {
    const place = await placesQuery(ctx.store).where('deployments.id', '=', key.owner_id).executeTakeFirst();
    if (!place) throw hidden;
    await authorize(ctx, principal, { deployment: place, right }, hidden);
    return;
  }
  const service = await ctx.store.db
    .selectFrom('service_versions')
    .innerJoin('services', 'services.id', 'service_versions.service_id')
    .select('services.name as name')
    .where('service_versions.id', '=', key.owner_id)
    .executeTakeFirst();
  if (!service) throw hidden;
  await authorize(ctx, principal, { service: service.name, right }, hidden);
}
