import type { Config } from '../../config/schema.js';
import type { EventBus } from '../../kernel/event-bus.js';
import { SigningKeyRing } from '../../keys/signing-keys.js';
import type { Store } from '../../store/database.js';
import { PlatformJwtVerifier } from './platform-jwt.js';

/**
 * The signing key ring and the platform JWT verifier of one process, loaded and following `bus`
 * (rotations and revocations). Every process serving model traffic has its own pair over the
 * shared store and master key; the first key is created by whichever starts first.
 */
export async function startPlatformJwt(
  store: Store,
  masterKey: Buffer,
  config: Config,
  bus: EventBus,
  /** The clock (epoch ms) retired keys are trusted by and tokens' `exp`/`iat` judged by; tests inject one. */
  now: () => number = Date.now,
): Promise<{
  readonly signingKeys: SigningKeyRing;
  readonly platformJwt: PlatformJwtVerifier;
}> {
  const signingKeys = new SigningKeyRing(
    store,
    masterKey,
    { algorithm: config.jwt_signing_algorithm, maxTtlS: config.jwt_max_ttl_s, now },
    bus,
  );
  await signingKeys.start();
  const platformJwt = new PlatformJwtVerifier(
    store,
    signingKeys,
    {
      issuer: config.jwt_issuer,
      clockSkewS: config.jwt_clock_skew_s,
      maxTtlS: config.jwt_max_ttl_s,
      now,
    },
    bus,
  );
  await platformJwt.start();
  return { signingKeys, platformJwt };
}
