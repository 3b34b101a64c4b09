import { generateCredential } from '../../kernel/credential.js';
import { ModelgateError } from '../../kernel/errors.js';
import { type Principal, userIdOf } from '../../kernel/principal.js';
import { conflict, newId, notFound, Problems, SECRET_NAME_PATTERN } from '../../kernel/validation.js';
import type { SecretsTable } from '../../store/schema.js';
import { open, seal } from '../../store/secrets/seal.js';
import { insertOrFind, lockForUpdate } from '../../store/transaction.js';
import { authorizeSecretReference } from '../access/secret-references.js';
import type { ControlContext } from './context.js';
import { nowIso } from './context.js';
import { setOwner } from './grants.js';
import { transact } from './transaction.js';

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
    'name',
  );
  const hasValue = input.value !== undefined;
  const generate = input.generate === true;
  problems.check(hasValue !== generate, 'give exactly one of value or generate: true');
  if (hasValue) {
    problems.check(
      typeof input.value === 'string' && input.value.length >= 1 && input.value.length <= 4096,
      'value must be a string of 1 to 4096 characters',
      'value',
    );
  }
  problems.throwIfAny();
  return generate ? { generate: true } : { value: input.value as string };
}

/**
 * Creates a secret (G3). @returns the generated value when the node generated it, to show once.
 */
export async function createSecret(ctx: ControlContext, name: string, input: SecretValueInput) {
  return transact(ctx, async (tx) => {
    if (await findSecret(tx, name)) throw conflict('secret', name);
    const { value, generated } = resolveValue(input);
    const row = newSecretRow(ctx, name, value);
    await tx.store.db.insertInto('secrets').values(row).execute();
    return { secret: info(row), generatedValue: generated ? value : undefined };
  });
}

/**
 * The current value of a secret that a write names (a deployment revision snapshots it): the only
 * way to a secret's value. Asks {@link authorizeSecretReference} first. A missing secret is
 * generated only where the caller is shown its value (`generate`: a deploy) and only for a
 * caller who may have it made (a user who does becomes its owner); parallel deploys naming one
 * new secret agree on one value.
 *
 * @returns the value, and whether this call generated it (then it is shown once).
 */
export async function referSecret(
  ctx: ControlContext,
  by: Principal,
  name: string,
  generate: boolean,
): Promise<{ value: string; generated: boolean }> {
  const { mayCreate } = await authorizeSecretReference(ctx, by, name);
  const row = await findSecret(ctx, name);
  if (row) return { value: open(ctx.masterKey, row.ciphertext, `secret:${row.id}`), generated: false };
  if (!mayCreate || !generate) throw notFound('secret', name);
  const value = await ensureSecret(ctx, name);
  // Another deploy made it first: use theirs.
  if (value === undefined) return referSecret(ctx, by, name, false);
  const owner = userIdOf(by);
  if (owner !== undefined) await setOwner(ctx, 'secret', name, owner);
  return { value, generated: true };
}

/** Inserts a secret with a generated value unless one exists. @returns the value, when this call made it. */
async function ensureSecret(ctx: ControlContext, name: string): Promise<string | undefined> {
  const value = generateCredential('secret');
  const { created } = await insertOrFind(
    newSecretRow(ctx, name, value),
    (row) =>
      ctx.store.db
        .insertInto('secrets')
        .values(row)
        .onConflict((oc) => oc.column('name').doNothing())
        .returning('id')
        .executeTakeFirst(),
    () => findSecret(ctx, name),
  );
  return created ? value : undefined;
}

function newSecretRow(ctx: ControlContext, name: string, value: string): SecretsTable {
  const id = newId('sec');
  const at = nowIso();
  return { id, name, ciphertext: seal(ctx.masterKey, value, `secret:${id}`), created_at: at, updated_at: at };
}

function info(row: SecretsTable): SecretInfo {
  return { name: row.name, created_at: row.created_at, updated_at: row.updated_at };
}

/** Replaces a secret's value. Deployments keep the snapshot they took until a redeploy (G4). */
export async function updateSecret(ctx: ControlContext, name: string, input: SecretValueInput) {
  return transact(ctx, async (tx) => {
    const row = await findSecret(tx, name);
    if (!row) throw notFound('secret', name);
    const { value, generated } = resolveValue(input);
    const at = nowIso();
    await tx.store.db
      .updateTable('secrets')
      .set({ ciphertext: seal(ctx.masterKey, value, `secret:${row.id}`), updated_at: at })
      .where('id', '=', row.id)
      .execute();
    return { secret: info({ ...row, updated_at: at }), generatedValue: generated ? value : undefined };
  });
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
  await transact(ctx, async (tx) => {
    // Locked first: a deploy snapshotting it right now commits before we look for its users.
    if (!(await findSecret(tx, name))) throw notFound('secret', name);
    const users = await secretReferences(tx, name);
    if (users.length > 0) {
      throw new ModelgateError('RESOURCE_IN_USE', `The secret "${name}" is used by ${users.join(', ')}`);
    }
    await tx.store.db.deleteFrom('secrets').where('name', '=', name).execute();
  });
}

/**
 * A secret's row, locked until commit inside `transact` (on PostgreSQL), so a deploy that
 * snapshots it and a delete that checks it is unused cannot interleave.
 */
function findSecret(ctx: ControlContext, name: string) {
  return lockForUpdate(
    ctx.store,
    ctx.store.db.selectFrom('secrets').selectAll().where('name', '=', name),
  ).executeTakeFirst();
}
