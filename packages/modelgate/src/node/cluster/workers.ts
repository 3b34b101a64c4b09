import { availableParallelism } from 'node:os';
import { ModelgateError } from '../../kernel/errors.js';

/**
 * The number of data-plane processes for the `workers` setting: a positive integer, or `auto`
 * for one per core. 1 means no cluster at all (the node serves model traffic itself).
 */
export function workerCount(setting: string, cores: number = availableParallelism()): number {
  const value = setting.trim().toLowerCase();
  if (value === 'auto') return Math.max(1, cores);
  if (/^[1-9][0-9]{0,3}$/.test(value)) return Number(value);
  throw new ModelgateError('CONFIG_INVALID', `workers must be a positive integer or "auto", not "${setting}"`);
}
