import {
  type AuthSettings,
  checkAuthSettings,
  DEFAULT_AUTH_SETTINGS,
  mergeAuthSettings,
  parseAuthSettings,
  parseAuthSettingsPatch,
} from '../../kernel/auth-settings.js';
import { admittedKinds, type CredentialKind } from '../../kernel/credential-kinds.js';
import type { DeploymentSnapshot } from '../../kernel/deployment-snapshot.js';
import { hashPassword } from '../../kernel/password-hash.js';
import type { Principal } from '../../kernel/principal.js';
import { parseRateLimit, type RateLimit, storedRateLimit } from '../../kernel/rate-limit.js';
import { TOPICS } from '../../kernel/topics.js';
import type { Access } from '../../kernel/validation.js';
import {
  checkName,
  checkUpstream,
  checkVersion,
  conflict,
  newId,
  notFound,
  Problems,
} from '../../kernel/validation.js';
import { placeOf } from '../../store/deployment-place.js';
import type { DeploymentsTable } from '../../store/schema.js';
import { lockForUpdate } from '../../store/transaction.js';
import { infrastructures, services, versions } from './catalog.js';
import { announce, type ControlContext, nowIso } from './context.js';
import { deleteOwnedKeys } from './owned-keys.js';
import { referSecret } from './secrets.js';
import { transact } from './transaction.js';

export type { Access };

/** A deployment as the API shows it. */
export interface DeploymentInfo {
  readonly name: string;
  readonly infrastructure: string;
  readonly service: string;
  readonly version: string;
  readonly upstream: string;
  readonly access: Access;
  readonly enabled: boolean;
  readonly revision: number;
  readonly auth: AuthSettings;
  readonly auth_source: 'version' | 'override';
  /** The kinds of credential that open it while protected (`admittedKinds` of `auth`). */
  readonly admits: CredentialKind[];
  /** Its rate limit (X3), null for none. */
  readonly rate_limit: RateLimit | null;
  readonly created_at: string;
  readonly updated_at: string;
}

export interface CreateDeploymentInput {
  readonly name: string;
  readonly upstream: string;
  readonly access?: Access;
  readonly infrastructure?: string;
  readonly service?: string;
  readonly version?: string;
  /** Per-deployment override of the version's auth settings (D7); absent = use the version's. */
  readonly auth?: unknown;
  readonly enabled?: boolean;
  /** `{requests, per, by?}` (X3); absent or null for none. */
  readonly rate_limit?: unknown;
}

export interface CreateDeploymentResult {
  readonly deployment: DeploymentInfo;
  /** Names of what the one-command path created because it was missing. */
  readonly created: readonly string[];
  /** A Basic secret generated because it was missing: its value, shown once. */
  readonly generatedSecret?: { readonly name: string; readonly value: string };
}

/**
 * Creates a deployment, creating what is missing on the way: the infrastructure (default
 * `default`), the service (default: the deployment's name), the version (default `1`, with
 * `auth` as its design-time settings) and a named Basic secret (generated, when `by` may have it
 * made: see `authorizeSecretReference`). Produces revision 1.
 *
 * @param by who asks: the Basic secret the deployment will use (its own or its version's) is
 *   read only if they may use it.
 */
export async function createDeployment(
  ctx: ControlContext,
  input: CreateDeploymentInput,
  by: Principal,
): Promise<CreateDeploymentResult> {
  const problems = new Problems();
  checkName(problems, 'name', input.name);
  checkUpstream(problems, input.upstream);
  problems.check(
    input.access === undefined || input.access === 'public' || input.access === 'protected',
    'access must be public or protected',
    'access',
  );
  if (input.infrastructure !== undefined) checkName(problems, 'infrastructure', input.infrastructure);
  if (input.service !== undefined) checkName(problems, 'service', input.service);
  if (input.version !== undefined) checkVersion(problems, input.version);
  problems.check(
    input.enabled === undefined || typeof input.enabled === 'boolean',
    'enabled must be a boolean',
    'enabled',
  );
  const rateLimit = parseRateLimit(problems, 'rate_limit', input.rate_limit, true);
  problems.throwIfAny();
  const override = input.auth === undefined ? null : parseAuthSettings(input.auth);
  // One transaction: a failure anywhere leaves no infrastructure, service, version or secret
  // behind; parents shared with parallel deploys are get-or-create, so those all succeed.
  return transact(ctx, async (tx) => {
    if (await findRow(tx, input.name)) throw conflict('deployment', input.name);
    const created: string[] = [];
    const note = <T extends { created: boolean }>(made: T, what: string): T => {
      if (made.created) created.push(what);
      return made;
    };
    const infraName = input.infrastructure ?? 'default';
    const infra = note(await infrastructures.ensure(tx, infraName), `infrastructure ${infraName}`).row;
    const serviceName = input.service ?? input.name;
    const service = note(await services.ensure(tx, serviceName), `service ${serviceName}`).row;
    const versionName = input.version ?? '1';
    // A version made by this path carries the given settings as its design-time ones.
    const version = note(
      await versions.ensure(tx, service.id, versionName, override ?? DEFAULT_AUTH_SETTINGS),
      `version ${serviceName}@${versionName}`,
    );
    const authOverride = version.created ? null : override;

    const at = nowIso();
    const row: DeploymentsTable = {
      id: newId('dep'),
      name: input.name,
      infrastructure_id: infra.id,
      service_id: service.id,
      version_id: version.row.id,
      upstream_url: input.upstream,
      access: input.access ?? ctx.config.default_deployment_access,
      enabled: input.enabled === false ? 0 : 1,
      auth_override: authOverride ? JSON.stringify(authOverride) : null,
      rate_limit: rateLimit ? JSON.stringify(rateLimit) : null,
      revision: 1,
      created_at: at,
      updated_at: at,
    };
    await tx.store.db.insertInto('deployments').values(row).execute();
    const generatedSecret = await insertRevision(tx, row, by, true);
    if (generatedSecret) created.push(`secret ${generatedSecret.name}`);
    await announce(tx, TOPICS.deploymentChanged, row.name);
    const result: CreateDeploymentResult = { deployment: await describe(tx, row), created };
    return generatedSecret ? { ...result, generatedSecret } : result;
  });
}

export interface UpdateDeploymentInput {
  readonly upstream?: string;
  readonly access?: Access;
  /**
   * The auth settings to change: the keys present change, the others keep their current value
   * (the override's, else the version's); null returns to the version's settings.
   */
  readonly auth?: unknown;
  readonly version?: string;
  /** A new rate limit (X3); null removes it. */
  readonly rate_limit?: unknown;
}

/**
 * Changes a deployment's settings. Like any (re)deploy this produces a new revision, which
 * re-reads the Basic secret's current value (so `by` must be allowed to use it).
 */
export async function updateDeployment(ctx: ControlContext, name: string, input: UpdateDeploymentInput, by: Principal) {
  const problems = new Problems();
  if (input.upstream !== undefined) checkUpstream(problems, input.upstream);
  problems.check(
    input.access === undefined || input.access === 'public' || input.access === 'protected',
    'access must be public or protected',
    'access',
  );
  const rateLimit = parseRateLimit(problems, 'rate_limit', input.rate_limit, true);
  problems.throwIfAny();
  const auth = input.auth === undefined || input.auth === null ? input.auth : parseAuthSettingsPatch(input.auth);
  return transact(ctx, async (tx) => {
    const row = await getRow(tx, name);
    const next: DeploymentsTable = { ...row };
    if (input.upstream !== undefined) next.upstream_url = input.upstream;
    if (input.access !== undefined) next.access = input.access;
    if (input.rate_limit !== undefined) next.rate_limit = rateLimit ? JSON.stringify(rateLimit) : null;
    if (input.version !== undefined) {
      const service = await tx.store.db
        .selectFrom('services')
        .select('name')
        .where('id', '=', row.service_id)
        .executeTakeFirstOrThrow();
      next.version_id = (await versions.get(tx, service.name, input.version)).id;
    }
    // Merged over what the deployment would enforce otherwise (the new version's, when it moves).
    if (auth === null) next.auth_override = null;
    else if (auth !== undefined) {
      const merged = mergeAuthSettings(await effectiveAuth(tx, next), auth);
      checkAuthSettings(merged);
      next.auth_override = JSON.stringify(merged);
    }
    return redeployRow(tx, next, by);
  });
}

/** The settings a deployment enforces: its override, else its version's. */
async function effectiveAuth(ctx: ControlContext, row: DeploymentsTable): Promise<AuthSettings> {
  if (row.auth_override) return parseAuthSettings(JSON.parse(row.auth_override));
  const version = await ctx.store.db
    .selectFrom('service_versions')
    .select('auth_settings')
    .where('id', '=', row.version_id)
    .executeTakeFirstOrThrow();
  return parseAuthSettings(JSON.parse(version.auth_settings));
}

/** `modelgate redeploy NAME`: a new revision with the same settings and the secret's current value (G4). */
export async function redeploy(ctx: ControlContext, name: string, by: Principal): Promise<DeploymentInfo> {
  return transact(ctx, async (tx) => redeployRow(tx, await getRow(tx, name), by));
}

/**
 * Writes the next revision of a row read under lock in this transaction, so parallel redeploys
 * of one deployment queue and each gets its own revision number.
 */
async function redeployRow(tx: ControlContext, row: DeploymentsTable, by: Principal): Promise<DeploymentInfo> {
  const next: DeploymentsTable = { ...row, revision: Number(row.revision) + 1, updated_at: nowIso() };
  await insertRevision(tx, next, by, false);
  await tx.store.db
    .updateTable('deployments')
    .set({
      upstream_url: next.upstream_url,
      access: next.access,
      auth_override: next.auth_override,
      // Else a PATCH's new limit is served (this revision's snapshot) but not stored: a later read shows the old one.
      rate_limit: next.rate_limit,
      version_id: next.version_id,
      revision: next.revision,
      updated_at: next.updated_at,
    })
    .where('id', '=', next.id)
    .execute();
  await announce(tx, TOPICS.deploymentChanged, next.name);
  return describe(tx, next);
}

/**
 * Freezes what the gateway serves for this revision (reads the Basic secret's value now, as
 * `by`; a missing one is generated only on creation, whose answer shows it).
 * @returns the Basic secret when this revision generated it.
 */
async function insertRevision(
  tx: ControlContext,
  row: DeploymentsTable,
  by: Principal,
  generate: boolean,
): Promise<CreateDeploymentResult['generatedSecret']> {
  const { snapshot, generatedSecret } = await buildSnapshot(tx, row, by, generate);
  await tx.store.db
    .insertInto('deployment_revisions')
    .values({
      deployment_id: row.id,
      revision: row.revision,
      snapshot: JSON.stringify(snapshot),
      created_at: row.updated_at,
    })
    .execute();
  return generatedSecret;
}

/** D9: enabling or disabling is not a redeploy; a disabled deployment answers 503. */
export async function setEnabled(ctx: ControlContext, name: string, enabled: boolean): Promise<DeploymentInfo> {
  return transact(ctx, async (tx) => {
    const row = await getRow(tx, name);
    const updated_at = nowIso();
    await tx.store.db
      .updateTable('deployments')
      .set({ enabled: enabled ? 1 : 0, updated_at })
      .where('id', '=', row.id)
      .execute();
    await announce(tx, TOPICS.deploymentChanged, name);
    return describe(tx, { ...row, enabled: enabled ? 1 : 0, updated_at });
  });
}

export async function deleteDeployment(ctx: ControlContext, name: string): Promise<void> {
  await transact(ctx, async (tx) => {
    const row = await getRow(tx, name);
    await deleteOwnedKeys(tx, 'deployment', row.id);
    await tx.store.db.deleteFrom('deployment_revisions').where('deployment_id', '=', row.id).execute();
    await tx.store.db.deleteFrom('deployments').where('id', '=', row.id).execute();
    await announce(tx, TOPICS.deploymentChanged, name);
  });
}

export async function getDeployment(ctx: ControlContext, name: string): Promise<DeploymentInfo> {
  return describe(ctx, await getRow(ctx, name));
}

export async function listDeployments(ctx: ControlContext): Promise<DeploymentInfo[]> {
  const rows = await ctx.store.db.selectFrom('deployments').selectAll().orderBy('name').execute();
  return Promise.all(rows.map((r) => describe(ctx, r)));
}

/** The snapshot the gateway serves for a deployment now, with its enabled flag; undefined if gone. */
export async function loadServedDeployment(
  ctx: Pick<ControlContext, 'store'>,
  name: string,
): Promise<{ snapshot: DeploymentSnapshot; enabled: boolean } | undefined> {
  const row = await ctx.store.db
    .selectFrom('deployments')
    .innerJoin('deployment_revisions', (j) =>
      j
        .onRef('deployment_revisions.deployment_id', '=', 'deployments.id')
        .onRef('deployment_revisions.revision', '=', 'deployments.revision'),
    )
    .select(['deployments.enabled', 'deployment_revisions.snapshot'])
    .where('deployments.name', '=', name)
    .executeTakeFirst();
  if (!row) return undefined;
  return { snapshot: JSON.parse(row.snapshot) as DeploymentSnapshot, enabled: Number(row.enabled) === 1 };
}

export async function listServedDeploymentNames(ctx: Pick<ControlContext, 'store'>): Promise<string[]> {
  return (await ctx.store.db.selectFrom('deployments').select('name').execute()).map((r) => r.name);
}

async function buildSnapshot(
  ctx: ControlContext,
  row: DeploymentsTable,
  by: Principal,
  generate: boolean,
): Promise<{ snapshot: DeploymentSnapshot; generatedSecret: CreateDeploymentResult['generatedSecret'] }> {
  const settings = await effectiveAuth(ctx, row);
  const admitted = admittedKinds(settings);
  // A kind the list leaves out is off in the snapshot, as if its setting were: one rule for the gateway.
  const secret =
    settings.basic_secret === null || !admitted.includes('basic')
      ? undefined
      : await referSecret(ctx, by, settings.basic_secret, generate);
  const basic =
    secret === undefined
      ? null
      : { username: ctx.config.basic_auth_username, password_hash: await hashPassword(secret.value) };
  const snapshot: DeploymentSnapshot = {
    id: row.id,
    name: row.name,
    revision: row.revision,
    upstream: row.upstream_url,
    access: row.access,
    infrastructure_id: row.infrastructure_id,
    service_id: row.service_id,
    version_id: row.version_id,
    basic,
    api_keys: admitted.includes('api_key')
      ? { deployment_id: row.id, version_id: row.auth_override ? null : row.version_id }
      : null,
    forward_credential: settings.forward_credential,
    oidc: admitted.includes('oidc') ? (settings.oidc ?? null) : null,
    credentials: settings.credentials === null ? null : admitted,
    rate_limit: storedRateLimit(row.rate_limit),
    auth_source: row.auth_override ? 'override' : 'version',
  };
  const generatedSecret =
    secret?.generated && settings.basic_secret !== null
      ? { name: settings.basic_secret, value: secret.value }
      : undefined;
  return { snapshot, generatedSecret };
}

async function findRow(ctx: ControlContext, name: string) {
  return lockForUpdate(
    ctx.store,
    ctx.store.db.selectFrom('deployments').selectAll().where('name', '=', name),
  ).executeTakeFirst();
}

/**
 * A deployment's row, or RESOURCE_NOT_FOUND. Inside `transact` it stays locked until commit, so
 * concurrent changes of one deployment queue instead of racing on its revision number.
 */
export async function getRow(ctx: ControlContext, name: string): Promise<DeploymentsTable> {
  const row = await findRow(ctx, name);
  if (!row) throw notFound('deployment', name);
  return row;
}

async function describe(ctx: ControlContext, row: DeploymentsTable): Promise<DeploymentInfo> {
  const [place, version] = await Promise.all([
    placeOf(ctx.store, row),
    ctx.store.db.selectFrom('service_versions').selectAll().where('id', '=', row.version_id).executeTakeFirstOrThrow(),
  ]);
  // Foreign keys keep both: a missing one is a broken store, not a caller's mistake.
  if (!place) throw new Error(`deployment ${row.id} names a service or infrastructure that is gone`);
  const auth = row.auth_override
    ? parseAuthSettings(JSON.parse(row.auth_override))
    : parseAuthSettings(JSON.parse(version.auth_settings));
  return {
    name: row.name,
    infrastructure: place.infrastructure,
    service: place.service,
    version: version.version,
    upstream: row.upstream_url,
    access: row.access,
    enabled: Number(row.enabled) === 1,
    revision: Number(row.revision),
    auth,
    auth_source: row.auth_override ? 'override' : 'version',
    admits: admittedKinds(auth),
    rate_limit: storedRateLimit(row.rate_limit),
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}
