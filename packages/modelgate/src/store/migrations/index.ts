import type { Migration } from 'kysely';
import type { Dialect } from '../dialect.js';
import { initial } from './0001_initial.js';
import { deployments } from './0002_deployments.js';
import { changeOrigin } from './0003_change_origin.js';
import { people } from './0004_people.js';
import { audit } from './0005_audit.js';
import { signingKeys } from './0006_signing_keys.js';
import { apiTokens } from './0007_api_tokens.js';
import { rotation } from './0008_rotation.js';
import { credentialUsage } from './0009_credential_usage.js';
import { oneCurrentSigningKey } from './0010_one_current_signing_key.js';
import { replicas } from './0011_replicas.js';
import { rateLimits } from './0012_rate_limits.js';

/** Every migration, in order. Names sort; never rename or edit a released one. */
export function allMigrations(dialect: Dialect): Record<string, Migration> {
  return {
    '0001_initial': initial(dialect),
    '0002_deployments': deployments,
    '0003_change_origin': changeOrigin,
    '0004_people': people,
    '0005_audit': audit(dialect),
    '0006_signing_keys': signingKeys,
    '0007_api_tokens': apiTokens,
    '0008_rotation': rotation,
    '0009_credential_usage': credentialUsage,
    '0010_one_current_signing_key': oneCurrentSigningKey,
    '0011_replicas': replicas,
    '0012_rate_limits': rateLimits,
  };
}
