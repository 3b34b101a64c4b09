import { displayPrefix, generateCredential, hashCredential } from '../../kernel/credential.js';
import { ModelgateError } from '../../kernel/errors.js';
import { parseRateLimit, type RateLimit, storedRateLimit } from '../../kernel/rate-limit.js';
import { type RotationState, rotationState } from '../../kernel/rotation.js';
import { TOPICS } from '../../kernel/topics.js';
import { checkDescription, newId, Problems } from '../../kernel/validation.js';
import { type CredentialUsage, credentialUsageOf, deleteCredentialUsage } from '../../store/credential-usage.js';
import type { ApiKeysTable } from '../../store/schema.js';
import { open, seal } from '../../store/secrets/seal.js';
import { lockForUpdate } from '../../store/transaction.js';
import { versions } from './catalog.js';
import { announce, type ControlContext, nowIso, nowMs } from './context.js';
import { getRow } from './deployments.js';
import { rollCredential } from './rotation.js';
import { transact } from './transaction.js';

/** Whose keys: one deployment's (D7), or a service version's design-time keys (D6). */
export type ApiKeyOwner = { readonly deployment: string } | { readonly service: string; readonly version: string };

export interface ApiKeyInfo {
  readonly id: string;
  readonly prefix: string;
  readonly description: string;
  readonly deployment?: string;
  readonly service?: string;
  readonly version?: string;
  readonly created_at: string;
  /** Requests made with the key, as of the data plane's last usage flush (a few seconds behind). */
  readonly requests: number;
  /** When the key was last used (same delay); null when never. */
  readonly last_used_at: string | null;
  /** `retiring` after a roll until its grace ends, then `retired` (refused). */
  readonly state: RotationState;
  readonly retires_at: string | null;
  /** The key's own rate limit (X3), null for its deployment's. */
  readonly rate_limit: RateLimit | null;
}

/** The usage kind of API keys in `credential_usage`. */
const USAGE_KIND = 'api_key';

async function resolveOwner(ctx: ControlContext, owner: ApiKeyOwner) {
  if ('deployment' in owner) {
    // Locked (inside `transact`), so a concurrent delete of the deployment cannot orphan keys.
    const row = await getRow(ctx, owner.deployment);
    return { owner_type: 'deployment' as const, owner_id: row.id };
  }
  const v = await versions.get(ctx, owner.service, owner.version);
  return { owner_type: 'version' as const, owner_id: v.id };
}

/** Validates `{deployment}` or `{service, version}` from user input. */
export function parseOwner(input: Record<string, unknown>): ApiKeyOwner {
  const problems = new Problems();
  const hasDeployment = typeof input.deployment === 'string';
  const hasVersion = typeof input.service === 'string' && typeof input.version === 'string';
  problems.check(hasDeployment !== hasVersion, 'give either deployment, or service and version');
  problems.throwIfAny();
  return hasDeployment
    ? { deployment: input.deployment as string }
    : { service: input.service as string, version: input.version as string };
}

/**
 * Creates API keys for an owner. @returns each key in plain, to show once; it stays revealable
 * to whoever may read the service (sealed under the master key).
 */
export async function createApiKeys(
  ctx: ControlContext,
  owner: ApiKeyOwner,
  count = 1,
  description = '',
  rateLimitInput: unknown = null,
): Promise<(ApiKeyInfo & { key: string })[]> {
  const problems = new Problems();
  problems.check(Number.isInteger(count) && count >= 1 && count <= 100, 'count must be 1 to 100', 'count');
  checkDescription(problems, description);
  const rateLimit = parseRateLimit(problems, 'rate_limit', rateLimitInput, false);
  problems.throwIfAny();
  return transact(ctx, async (tx) => {
    const resolved = await resolveOwner(tx, owner);
    const out: (ApiKeyInfo & { key: string })[] = [];
    for (let i = 0; i < count; i++) {
      const key = generateCredential('api_key');
      const id = newId('key');
      const row: ApiKeysTable = {
        id,
        ...resolved,
        prefix: displayPrefix(key),
        hash: hashCredential(key),
        ciphertext: seal(ctx.masterKey, key, `api_key:${id}`),
        description,
        created_at: nowIso(),
        last_used_at: null,
        retires_at: null,
        predecessor_id: null,
        rate_limit: rateLimit ? JSON.stringify(rateLimit) : null,
      };
      await tx.store.db.insertInto('api_keys').values(row).execute();
      out.push({ ...(await describe(tx, row)), key });
    }
    return out;
  });
}

export async function listApiKeys(ctx: ControlContext, owner?: ApiKeyOwner): Promise<ApiKeyInfo[]> {
  let query = ctx.store.db.selectFrom('api_keys').selectAll().orderBy('created_at').orderBy('id');
  if (owner) {
    const resolved = await resolveOwner(ctx, owner);
    query = query.where('owner_type', '=', resolved.owner_type).where('owner_id', '=', resolved.owner_id);
  }
  const rows = await query.execute();
  const usage = await credentialUsageOf(
    ctx.store,
    USAGE_KIND,
    rows.map((r) => r.id),
  );
  return Promise.all(rows.map((r) => describe(ctx, r, usage.get(r.id))));
}

/** Dataiku: readers of a service can see its API keys again. */
export async function revealApiKey(ctx: ControlContext, id: string): Promise<ApiKeyInfo & { key: string }> {
  const row = await getKeyRow(ctx, id);
  const usage = await credentialUsageOf(ctx.store, USAGE_KIND, [row.id]);
  return {
    ...(await describe(ctx, row, usage.get(row.id))),
    key: open(ctx.masterKey, row.ciphertext, `api_key:${row.id}`),
  };
}

/** Deletes a key; every gateway refuses it from the next request on (X1). */
export async function deleteApiKey(ctx: ControlContext, id: string): Promise<void> {
  await transact(ctx, async (tx) => {
    const row = await getKeyRow(tx, id);
    await tx.store.db.deleteFrom('api_keys').where('id', '=', row.id).execute();
    await deleteCredentialUsage(tx.store, USAGE_KIND, row.id);
    await announce(tx, TOPICS.apiKeyDeleted, row.id);
  });
}

/**
 * Rolls a key (X2): a successor with the same owner, description and rate limit, and the old key retiring
 * `graceSeconds` from now (0: refused at once). The old row is locked and must not be rolled
 * already, so two parallel rolls make one successor and the other gets 409
 * `CREDENTIAL_ALREADY_ROLLED`. @returns the new key in plain (shown here) and the old one's fate.
 */
export async function rollApiKey(
  ctx: ControlContext,
  id: string,
  graceSeconds: unknown,
): Promise<ApiKeyInfo & { key: string; predecessor: { id: string; retires_at: string } }> {
  return rollCredential(ctx, id, graceSeconds, {
    what: 'API key',
    topic: TOPICS.apiKeyRolled,
    lock: (tx, keyId) => getKeyRow(tx, keyId, true),
    retiresAt: (_old, now, graceMs) => now + graceMs,
    async succeed(tx, old, retiresAt) {
      await tx.store.db.updateTable('api_keys').set({ retires_at: retiresAt }).where('id', '=', old.id).execute();
      const key = generateCredential('api_key');
      const successorId = newId('key');
      const row: ApiKeysTable = {
        id: successorId,
        owner_type: old.owner_type,
        owner_id: old.owner_id,
        prefix: displayPrefix(key),
        hash: hashCredential(key),
        ciphertext: seal(ctx.masterKey, key, `api_key:${successorId}`),
        description: old.description,
        created_at: nowIso(),
        last_used_at: null,
        retires_at: null,
        predecessor_id: old.id,
        // The successor keeps the key's own limit: a roll changes the secret, not the terms.
        rate_limit: old.rate_limit ?? null,
      };
      await tx.store.db.insertInto('api_keys').values(row).execute();
      return { ...(await describe(tx, row)), key };
    },
  });
}

async function getKeyRow(ctx: ControlContext, id: string, lock = false): Promise<ApiKeysTable> {
  const query = ctx.store.db.selectFrom('api_keys').selectAll().where('id', '=', id);
  const row = await (lock ? lockForUpdate(ctx.store, query) : query).executeTakeFirst();
  if (!row) throw new ModelgateError('RESOURCE_NOT_FOUND', `No API key with id "${id}"`);
  return row;
}

async function describe(ctx: ControlContext, row: ApiKeysTable, usage?: CredentialUsage): Promise<ApiKeyInfo> {
  const base = {
    id: row.id,
    prefix: row.prefix,
    description: row.description,
    created_at: row.created_at,
    requests: usage?.requests ?? 0,
    last_used_at: usage?.last_used_at ?? row.last_used_at,
    state: rotationState(row.retires_at, nowMs(ctx)),
    retires_at: row.retires_at,
    rate_limit: storedRateLimit(row.rate_limit),
  };
  if (row.owner_type === 'deployment') {
    const d = await ctx.store.db
      .selectFrom('deployments')
      .select('name')
      .where('id', '=', row.owner_id)
      .executeTakeFirst();
    return { ...base, deployment: d?.name ?? '(deleted)' };
  }
  const v = await ctx.store.db
    .selectFrom('service_versions')
    .innerJoin('services', 'services.id', 'service_versions.service_id')
    .select(['services.name as service', 'service_versions.version as version'])
    .where('service_versions.id', '=', row.owner_id)
    .executeTakeFirst();
  return { ...base, service: v?.service ?? '(deleted)', version: v?.version ?? '' };
}
