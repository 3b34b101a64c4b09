import { createHash, hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * Every credential the node generates: a type prefix, 30 random base62 characters (178 bits
 * from the CSPRNG) and a 6-character base62 CRC32 of everything before it, GitHub style:
 * `mgm_4Jx...Qz0aB1cD`. The prefix lets secret scanners and people tell kinds apart; the
 * checksum refuses typos and random strings before any lookup.
 */
export const CREDENTIAL_PREFIXES = {
  management_key: 'mgm',
  inference_key: 'mgi',
  token_api_key: 'mgr',
  admin_key: 'mga',
  api_key: 'mgk',
  api_token: 'mgt',
  secret: 'mgs',
  user_session: 'mgu',
} as const;

export type CredentialKind = keyof typeof CREDENTIAL_PREFIXES;

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_LENGTH = 30;
const CHECKSUM_LENGTH = 6;
const SHAPE = /^(mg[a-z]{1,3})_([0-9A-Za-z]{30})([0-9A-Za-z]{6})$/;
const KIND_BY_PREFIX = new Map<string, CredentialKind>(
  Object.entries(CREDENTIAL_PREFIXES).map(([kind, prefix]) => [prefix, kind as CredentialKind]),
);

/**
 * Generates a new credential of the given kind.
 *
 * @example
 * ```ts
 * const key = generateCredential('api_key'); // 'mgk_...'
 * ```
 */
export function generateCredential(kind: CredentialKind): string {
  const body = `${CREDENTIAL_PREFIXES[kind]}_${randomBase62(RANDOM_LENGTH)}`;
  return body + checksum(body);
}

/** A syntactically valid credential: known prefix, base62 body, matching checksum. */
export interface ParsedCredential {
  readonly kind: CredentialKind;
  readonly value: string;
  /** SHA-256 hex of the whole credential: the only form stored or used as a cache key. */
  readonly hash: string;
}

/**
 * Checks a credential's shape and checksum without any lookup.
 *
 * @example
 * ```ts
 * parseCredential('mgk_...'); // { kind: 'api_key', value, hash } or undefined when malformed
 * ```
 */
export function parseCredential(value: string): ParsedCredential | undefined {
  const match = SHAPE.exec(value);
  if (!match) return undefined;
  const kind = KIND_BY_PREFIX.get(match[1]!);
  if (!kind) return undefined;
  const body = `${match[1]}_${match[2]}`;
  // The checksum is derived from the value the caller sent, so comparing it leaks nothing the
  // caller does not know: a plain comparison, and the one hash left is the lookup key.
  if (checksum(body) !== match[3]) return undefined;
  return { kind, value, hash: hashCredential(value) };
}

/**
 * SHA-256 hex digest of a credential. One-shot `crypto.hash`: on every authenticated request,
 * and a `Hash` object (stream machinery included) costs several times the digest itself.
 */
export function hashCredential(value: string): string {
  return hash('sha256', value, 'hex');
}

/** A short, non-secret label for lists: the prefix and the first four random characters. */
export function displayPrefix(value: string): string {
  return value.slice(0, value.indexOf('_') + 5);
}

/**
 * Compares two strings in time that depends only on their lengths' digest, never on where they
 * differ. Both sides are hashed first so unequal lengths do not short-circuit either.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}

/**
 * Compares two hex digests of equal, public length (SHA-256 of secrets) without an early exit.
 * Cheaper than `constantTimeEqual`, which hashes both sides first so unequal lengths are safe too.
 */
export function sameDigest(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function checksum(body: string): string {
  let n = crc32(body);
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

/** Uniform base62 by rejection sampling (bytes ≥ 248 are discarded to avoid modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248) out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

const EMBEDDED = /mg[a-z]{1,3}_[0-9A-Za-z]{36}/g;

/**
 * Replaces anything shaped like a modelgate credential in free text (a URL, an id a user typed,
 * an error message) so it can be logged or echoed safely.
 *
 * @example
 * ```ts
 * scrubCredentials('/api/v1/api-keys/mgk_...'); // '/api/v1/api-keys/[credential]'
 * ```
 */
export function scrubCredentials(text: string): string {
  return text.replace(EMBEDDED, '[credential]');
}
