import { InvalidArgumentError } from 'commander';

const UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * Commander argument parser for a duration: a whole number with an optional unit (`s`, `m`, `h`,
 * `d`; seconds when none). @returns seconds.
 *
 * @example
 * ```ts
 * parseDuration('24h'); // 86400
 * parseDuration('0');   // 0
 * ```
 */
export function parseDuration(value: string): number {
  const match = /^([0-9]{1,9})([smhd]?)$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError('Expected a duration such as 0, 90s, 30m, 24h or 7d.');
  return Number(match[1]) * (UNITS[match[2] || 's'] ?? 1);
}
