import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** scrypt cost: ~50 ms per check here, which is why positive results are cached. */
const N = 16384;
const R = 8;
const P = 1;
const KEYLEN = 32;

/**
 * The current scheme. scrypt's PBKDF2-HMAC step zero-pads short keys, so `pw` and `pw\0` give
 * the same hash; scrypt therefore runs over the password's SHA-256 (fixed length, so no two
 * different passwords can pad to the same key).
 */
const SCHEME = 'scrypt-sha256';
/** Hashes made before {@link SCHEME}: scrypt over the raw password. Still verified. */
const LEGACY_SCHEME = 'scrypt';

function scryptAsync(password: string | Buffer, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEYLEN, { N: n, r, p, maxmem: 64 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** The exact bytes scrypt sees for a password under the current scheme. */
function prehash(password: string): Buffer {
  return createHash('sha256').update(password, 'utf8').digest();
}

/**
 * Hashes a password for storage: `scrypt-sha256$N$r$p$salt$hash` (base64url parts).
 *
 * @example
 * ```ts
 * const stored = await hashPassword('s3cret');
 * await verifyPassword('s3cret', stored); // true
 * ```
 */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(prehash(password), salt, N, R, P);
  return [SCHEME, N, R, P, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

/**
 * Checks a password against a stored hash in constant time, on the exact bytes: a corrupt hash
 * never matches, and neither does a password that differs only by trailing NUL bytes. A legacy
 * `scrypt$` hash cannot tell those apart, so under it a password ending in NUL never matches.
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (!n || !r || !p || !salt || !hash) return false;
  let input: string | Buffer;
  if (scheme === SCHEME) input = prehash(password);
  else if (scheme === LEGACY_SCHEME && !password.endsWith('\u0000')) input = password;
  else return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scryptAsync(input, Buffer.from(salt, 'base64url'), Number(n), Number(r), Number(p));
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
