import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM with a random 96-bit nonce. The sealed form is `v1.<nonce>.<tag>.<ciphertext>`
 * in base64url; `context` (e.g. `secret:<id>`) is bound as associated data, so a ciphertext
 * moved to another row does not open.
 *
 * @example
 * ```ts
 * const sealed = seal(masterKey, 'hunter2', 'secret:sec_1');
 * open(masterKey, sealed, 'secret:sec_1'); // 'hunter2'
 * ```
 */
export function seal(key: Buffer, plaintext: string, context: string): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', nonce, cipher.getAuthTag(), body]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.');
}

/** Opens what `seal` made; throws when the key, the context or the bytes are wrong. */
export function open(key: Buffer, sealed: string, context: string): string {
  const [version, nonce, tag, body] = sealed.split('.');
  if (version !== 'v1' || nonce === undefined || tag === undefined || body === undefined) {
    throw new Error('not a sealed value');
  }
  // A pinned tag length: node would otherwise accept a truncated (4-byte) tag.
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64url'), { authTagLength: 16 });
  decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
}
