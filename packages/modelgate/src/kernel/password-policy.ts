import { readFileSync } from 'node:fs';

/** NIST SP 800-63B §5.1.1.2: length bounds, no composition rules, a blocklist of common ones. */
export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 256;

let blocklist: ReadonlySet<string> | undefined;

/** The shipped list of the 1,000 most common passwords, lower-cased (read once). */
function commonPasswords(): ReadonlySet<string> {
  blocklist ??= new Set(
    readFileSync(new URL('../../data/common-passwords.txt', import.meta.url), 'utf8')
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => line.trim().toLowerCase()),
  );
  return blocklist;
}

/**
 * Why a password is refused, or undefined when it is acceptable. Length counts Unicode code
 * points, as NIST asks; common passwords are compared case-insensitively. The message never
 * quotes the password.
 *
 * @example
 * ```ts
 * passwordProblem('password1234'); // 'password is one of the most common passwords'
 * ```
 */
export function passwordProblem(password: unknown): string | undefined {
  if (typeof password !== 'string') return 'password must be a string';
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) return `password must be at least ${PASSWORD_MIN_LENGTH} characters`;
  if (length > PASSWORD_MAX_LENGTH) return `password must be at most ${PASSWORD_MAX_LENGTH} characters`;
  if (commonPasswords().has(password.toLowerCase())) return 'password is one of the most common passwords';
  return undefined;
}
