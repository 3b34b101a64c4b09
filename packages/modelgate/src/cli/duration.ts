import { InvalidArgumentError } from 'commander';

const UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * Commander argument parser for a duration: a whole number with a unit (`s`, `m`, `h`, `d`); a
 * bare number is refused (is `1` a second or a day?), except `0`. @returns seconds.
 *
 * @example
 * ```ts
 * parseDuration('24h'); // 86400
 * parseDuration('0');   // 0
 * ```
 */
export function parseDuration(value: string): number {
  const match = /^([0-9]{1,9})([smhd]?)$/.exec(value.trim());
  if (!match || (match[2] === '' && Number(match[1]) !== 0)) {
    throw new InvalidArgumentError(
      `Expected a duration with its unit, such as 0, 90s, 30m, 24h or 7d${match ? ` (${match[1]}s for seconds)` : ''}.`,
    );
  }
  return Number(match[1]) * (UNITS[match[2] as string] ?? 0);
}

/**
 * Commander argument parser for an expiry: a duration from now (`7d`, `12h`) or an ISO-8601 time,
 * which the API checks. @returns an ISO-8601 time.
 */
export function parseExpiry(value: string): string {
  if (/^[0-9]{1,9}[smhd]$/.test(value.trim())) {
    return new Date(Date.now() + parseDuration(value) * 1000).toISOString();
  }
  return value;
}
