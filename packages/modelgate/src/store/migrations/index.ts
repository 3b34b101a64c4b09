import type { Migration } from 'kysely';
import type { Dialect } from '../database.js';
import { initial } from './0001_initial.js';
import { deployments } from './0002_deployments.js';
import { changeOrigin } from './0003_change_origin.js';
import { people } from './0004_people.js';
import { audit } from './0005_audit.js';
import { signingKeys } from './0006_signing_keys.js';
import { oneCurrentSigningKey } from './0007_one_current_signing_key.js';

/** Every migration, in order. Names sort; never rename or edit a released one. */
export function allMigrations(dialect: Dialect): Record<string, Migration> {
  return {
    '0001_initial': initial(dialect),
    '0002_deployments': deployments,
    '0003_change_origin': changeOrigin,
    '0004_people': people,
    '0005_audit': audit(dialect),
    '0006_signing_keys': signingKeys,
    '0007_one_current_signing_key': oneCurrentSigningKey,
  };
}
