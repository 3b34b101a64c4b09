import type { Migration } from 'kysely';
import type { Dialect } from '../database.js';
import { initial } from './0001_initial.js';
import { deployments } from './0002_deployments.js';
import { changeOrigin } from './0003_change_origin.js';

/** Every migration, in order. Names sort; never rename or edit a released one. */
export function allMigrations(dialect: Dialect): Record<string, Migration> {
  return {
    '0001_initial': initial(dialect),
    '0002_deployments': deployments,
    '0003_change_origin': changeOrigin,
  };
}
