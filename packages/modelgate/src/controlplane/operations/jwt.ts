import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Config } from '../../config/schema.js';
import { PLATFORM_JWT_AUDIENCE, PLATFORM_JWT_TYPE, SCOPE_CLAIM, type ScopeClaim } from '../../kernel/jwt-claims.js';
import type { Principal } from '../../kernel/principal.js';
import { TOPICS } from '../../kernel/topics.js';
import { newId, notFound, Problems } from '../../kernel/validation.js';
import type { SigningKeyRing } from '../../keys/signing-keys.js';
import { placeOf } from '../../store/deployment-place.js';
import type { JwtRevocationsTable } from '../../store/schema.js';
import { authorizeJtiRevocation, authorizeJwtTarget, type JwtTarget } from '../access/jwt-targets.js';
import { infrastructures } from './catalog.js';
import { announce, type ControlContext, nowIso, nowMs } from './context.js';
import { getRow } from './deployments.js';
import { transact } from './transaction.js';

export type JwtSettings = Pick<Config, 'jwt_issuer' | 'jwt_default_ttl_s' | 'jwt_max_ttl_s' | 'jwt_clock_skew_s'>;

/** `{deployment}` or `{infrastructure}` by name, exactly one. */
export interface TargetInput {
  readonly deployment?: unknown;
  readonly infrastructure?: unknown;
}

/** What `/api/v1/issue-jwt` answers. The token is not stored and cannot be fetched again. */
export interface IssuedJwt {
  readonly token: string;
  readonly jti: string;
  readonly expires_at: string;
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** Parses an ISO-8601 date-time with a zone (`2030-01-01T00:00:00Z`), or reports it. */
export function parseInstant(problems: Problems, field: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const ms = typeof value === 'string' && ISO_8601.test(value) ? Date.parse(value) : Number.NaN;
  problems.check(
    Number.isFinite(ms),
    `${field} must be an ISO-8601 date-time with a zone, e.g. 2030-01-01T00:00:00Z`,
    field,
  );
  return Number.isFinite(ms) ? ms : undefined;
}

/** Resolves `{deployment}` or `{infrastructure}` (names) to the target's id. */
export async function resolveTarget(
  ctx: ControlContext,
  input: TargetInput,
): Promise<JwtTarget & { infrastructure_id: string; infrastructure: string }> {
  const problems = new Problems();
  const hasDeployment = typeof input.deployment === 'string' && input.deployment !== '';
  const hasInfrastructure = typeof input.infrastructure === 'string' && input.infrastructure !== '';
  problems.check(hasDeployment !== hasInfrastructure, 'give either deployment or infrastructure (a name)');
  problems.throwIfAny();
  if (hasDeployment) {
    const row = await getRow(ctx, input.deployment as string);
    const place = await placeOf(ctx.store, row);
    if (!place) throw notFound('deployment', row.name);
    return {
      type: 'deployment',
      id: row.id,
      name: row.name,
      infrastructure_id: row.infrastructure_id,
      infrastructure: place.infrastructure,
    };
  }
  const infra = await infrastructures.get(ctx, input.infrastructure as string);
  return {
    type: 'infrastructure',
    id: infra.id,
    name: infra.name,
    infrastructure_id: infra.id,
    infrastructure: infra.name,
  };
}

/**
 * Issues a platform JWT for a deployment or an infrastructure (S2–S4), signed with the node's
 * current key. `expires_at` defaults to `jwt_default_ttl_s` from now and may not exceed
 * `jwt_max_ttl_s`. `iat` and `exp` are stamped by the node's clock.
 */
export async function issueJwt(
  ctx: ControlContext,
  keys: SigningKeyRing,
  settings: JwtSettings,
  principal: Principal,
  input: TargetInput & { readonly expires_at?: unknown },
): Promise<IssuedJwt> {
  const problems = new Problems();
  const now = nowMs(ctx);
  const requested = parseInstant(problems, 'expires_at', input.expires_at);
  // A default above the maximum is capped rather than failing every request that omits expires_at.
  const defaultTtlS = Math.min(settings.jwt_default_ttl_s, settings.jwt_max_ttl_s);
  const exp = Math.floor((requested ?? now + defaultTtlS * 1000) / 1000);
  const iat = Math.floor(now / 1000);
  problems.check(exp > iat, 'expires_at must be in the future', 'expires_at');
  problems.check(
    exp - iat <= settings.jwt_max_ttl_s,
    `expires_at may be at most ${settings.jwt_max_ttl_s} seconds from now`,
    'expires_at',
  );
  problems.throwIfAny();
  const target = await resolveTarget(ctx, input);
  await authorizeJwtTarget(ctx, principal, target, 'read');
  const scope: ScopeClaim =
    target.type === 'deployment'
      ? {
          infrastructure_id: target.infrastructure_id,
          infrastructure: target.infrastructure,
          deployment_id: target.id,
          deployment: target.name,
        }
      : { infrastructure_id: target.id, infrastructure: target.name };
  const signer = keys.signer();
  const jti = `jwt_${randomBytes(16).toString('base64url')}`;
  const token = await new SignJWT({ [SCOPE_CLAIM]: scope })
    .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: PLATFORM_JWT_TYPE })
    .setIssuer(settings.jwt_issuer)
    .setSubject(`${principal.kind}:${principal.id}`)
    .setAudience(PLATFORM_JWT_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .setJti(jti)
    .sign(signer.privateKey);
  return { token, jti, expires_at: new Date(exp * 1000).toISOString() };
}

/** `{jti}`, or `{deployment|infrastructure, issued_before?}` (default: now). */
export interface RevocationInput extends TargetInput {
  readonly jti?: unknown;
  readonly issued_before?: unknown;
}

export interface RevocationInfo {
  readonly id: string;
  readonly jti: string | null;
  readonly deployment?: string;
  readonly infrastructure?: string;
  readonly issued_before: string | null;
  readonly created_at: string;
}

/**
 * Revokes one platform JWT by `jti`, or every token for a target issued at or before a time
 * (X1). In force on this process when it returns, and on every other within one change-log poll.
 * The default `issued_before`, and how long the row is kept, are by the node's clock.
 */
export async function revokeJwt(
  ctx: ControlContext,
  settings: JwtSettings,
  principal: Principal,
  input: RevocationInput,
): Promise<RevocationInfo> {
  const problems = new Problems();
  const now = nowMs(ctx);
  const keep = (settings.jwt_max_ttl_s + settings.jwt_clock_skew_s) * 1000;
  const created_at = nowIso();
  const id = newId('rev');
  if (input.jti !== undefined) {
    problems.check(
      typeof input.jti === 'string' && /^[A-Za-z0-9_-]{1,128}$/.test(input.jti),
      'jti must be a token id (1-128 of A-Z a-z 0-9 _ -)',
      'jti',
    );
    problems.check(
      input.deployment === undefined && input.infrastructure === undefined && input.issued_before === undefined,
      'give either jti, or deployment/infrastructure with issued_before',
    );
    problems.throwIfAny();
    await authorizeJtiRevocation(ctx, principal);
    const jti = input.jti as string;
    await recordRevocation(ctx, {
      id,
      jti,
      target_type: null,
      target_id: null,
      issued_before: null,
      expires_at: new Date(now + keep).toISOString(),
      created_at,
    });
    return { id, jti, issued_before: null, created_at };
  }
  const before = parseInstant(problems, 'issued_before', input.issued_before) ?? now;
  problems.check(
    before <= now + settings.jwt_clock_skew_s * 1000,
    'issued_before may not be in the future',
    'issued_before',
  );
  problems.throwIfAny();
  const target = await resolveTarget(ctx, input);
  await authorizeJwtTarget(ctx, principal, target, 'deploy');
  const issued_before = new Date(before).toISOString();
  await recordRevocation(ctx, {
    id,
    jti: null,
    target_type: target.type,
    target_id: target.id,
    issued_before,
    expires_at: new Date(before + keep).toISOString(),
    created_at,
  });
  return { id, jti: null, [target.type]: target.name, issued_before, created_at };
}

/** Stores a revocation and its change-log row in one transaction, then applies it here. */
async function recordRevocation(ctx: ControlContext, row: JwtRevocationsTable): Promise<void> {
  await transact(ctx, async (tx) => {
    await tx.store.db.insertInto('jwt_revocations').values(row).execute();
    await announce(tx, TOPICS.jwtRevoked, row.id);
  });
}
