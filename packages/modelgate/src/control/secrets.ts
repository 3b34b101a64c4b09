import { generateCredential } from '../auth/credential.js';
import { ModelgateError } from '../errors/registry.js';
import { open, seal } from '../secrets/seal.js';
import type { ControlContext } from './context.js';
import { nowIso } from './context.js';
import { conflict, newId, notFound, Problems, SECRET_NAME_PATTERN } from './validation.js';

export interface SecretInfo {
  readonly name: string;
  readonly created_at: string;
  readonly updated_at: string;
}

/** Either a value given by the user or one the node generates (then returned once). */
export type SecretValueInput = { readonly value: string } | { readonly generate: true };

function resolveValue(input: SecretValueInput): { value: string; generated: boolean } {
  if ('generate' in input) return { value: generateCredential('secret'), generated: true };
  return { value: input.value, generated: false };
}

export function validateSecretInput(name: unknown, input: Record<string, unknown>): SecretValueInput {
  const problems = new Problems();
  problems.check(
    typeof name === 'string' && SECRET_NAME_PATTERN.test(name),
    'name must be 1-128 letters, digits, _ . -',
  );
  const hasValue = input.value !== undefined;
  const generate = input.generate === true;
  problems.check(hasValue !== generate, 'give exactly one of value or generate: true');
  if (hasValue) {
    problems.check(
      typeof input.value === 'string' && input.value.length >= 1 && input.value.length <= 4096,
      'value must be a string of 1 to 4096 characters',
    );
  }
  problems.throwIfAny();
  return generate ? { generate: true } : { value: input.value as string };
}

/**
 * Creates a secret (G3). @returns the generated value when the node generated it, to show once.
 */
export async function createSecret(ctx: ControlContext, name: string, input: SecretValueInput) {
  const existing = await ctx.store.db.selectFrom('secrets').select('id').where('name', '=', name).executeTakeFirst();
  if (existing) throw conflict('secret', name);
  const { value, generated } = resolveValue(input);
  const id = newId('sec');
  const at = nowIso();
  await ctx.store.db
    .insertInto('secrets')
    .values({ id, name, ciphertext: seal(ctx.masterKey, value, `secret:${id}`), created_at: at, updated_at: at })
    .execute();
  return { secret: { name, created_at: at, updated_at: at }, generatedValue: generated ? value : undefined };
}

/** Replaces a secret's value. Deployments keep the snapshot they took until a redeploy (G4). */
export async function updateSecret(ctx: ControlContext, name: string, input: SecretValueInput) {
  const row = await ctx.store.db.selectFrom('secrets').selectAll().where('name', '=', name).executeTakeFirst();
  if (!row) throw notFound('secret', name);
  const { value, generated } = resolveValue(input);
  const at = nowIso();
  await ctx.store.db
    .updateTable('secrets')
    .set({ ciphertext: seal(ctx.masterKey, value, `secret:${row.id}`), updated_at: at })
    .where('id', '=', row.id)
    .execute();
  return {
    secret: { name, created_at: row.created_at, updated_at: at },
    generatedValue: generated ? value : undefined,
  };
}

export async function listSecrets(ctx: ControlContext): Promise<SecretInfo[]> {
  return ctx.store.db.selectFrom('secrets').select(['name', 'created_at', 'updated_at']).orderBy('name').execute();
}

/**
 * What refers to this secret by name: deployments whose settings (their override, else their
 * version's) name it, and service versions whose design-time settings name it (a later deploy
 * of that version would read it). Settings are JSON text, so they are read and compared here.
 */
export async function secretReferences(ctx: ControlContext, name: string): Promise<string[]> {
  const names = (json: string | null) =>
    json !== null && (JSON.parse(json) as { basic_secret?: unknown }).basic_secret === name;
  const deployments = await ctx.store.db
    .selectFrom('deployments')
    .innerJoin('service_versions', 'service_versions.id', 'deployments.version_id')
    .select(['deployments.name', 'deployments.auth_override', 'service_versions.auth_settings'])
    .execute();
  const versions = await ctx.store.db
    .selectFrom('service_versions')
    .innerJoin('services', 'services.id', 'service_versions.service_id')
    .select(['services.name as service', 'service_versions.version', 'service_versions.auth_settings'])
    .execute();
  return [
    ...deployments.filter((d) => names(d.auth_override ?? d.auth_settings)).map((d) => `deployment "${d.name}"`),
    ...versions.filter((v) => names(v.auth_settings)).map((v) => `service version "${v.service}@${v.version}"`),
  ];
}

/**
 * Deletes a secret, refusing while a deployment or a service version refers to it (a redeploy
 * would otherwise fail, or a Basic-protected deployment would lose its password source).
 */
export async function deleteSecret(ctx: ControlContext, name: string): Promise<void> {
  const users = await secretReferences(ctx, name);
  if (users.length > 0) {
    throw new ModelgateError('RESOURCE_IN_USE', `The secret "${name}" is used by ${users.join(', ')}`);
  }
  const result = await ctx.store.db.deleteFrom('secrets').where('name', '=', name).executeTakeFirst();
  if (Number(result.numDeletedRows) === 0) throw notFound('secret', name);
}

/** The current plain value, for snapshotting at deploy time only. */
export async function readSecretValue(ctx: ControlContext, name: string): Promise<string> {
  const row = await ctx.store.db.selectFrom('secrets').selectAll().where('name', '=', name).executeTakeFirst();
  if (!row) throw notFound('secret', name);
  return open(ctx.masterKey, row.ciphertext, `secret:${row.id}`);
}
