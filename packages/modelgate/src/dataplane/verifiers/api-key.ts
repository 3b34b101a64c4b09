import { RevocableCache } from '../../kernel/cache.js';
import type { ParsedCredential } from '../../kernel/credential.js';
import { type Denial, deny } from '../../kernel/denial.js';
import type { EventBus } from '../../kernel/event-bus.js';
import { PendingCheck } from '../../kernel/pending-check.js';
import type { Principal } from '../../kernel/principal.js';
import { storedRateLimit } from '../../kernel/rate-limit.js';
import { retirementDenial } from '../../kernel/rotation.js';
import { TOPICS } from '../../kernel/topics.js';
import type { Store } from '../../store/database.js';
import type { Identity, Proof, Verifier } from '../verifier.js';

interface KnownKey extends Identity {
  readonly id: string;
  /** Epoch ms after which a rolled key is refused; null while it is current (X2). */
  readonly retiresAt: number | null;
}

/**
 * Verifies API keys (D8): proves the key and the deployment or version that owns it; whether
 * that owner is the deployment called is `authorize`'s. Known keys are answered synchronously
 * from a bounded cache keyed by hash, so the hot path does no store I/O; `api_key.deleted` and
 * `api_key.rolled` evict at once (X1). A rolled key is refused once its grace period has ended
 * (X2). Unknown keys become a `PendingCheck` that reaches the store, behind the gateway's
 * failure throttling.
 */
export class ApiKeyVerifier implements Verifier<ParsedCredential> {
  private readonly known: RevocableCache<KnownKey>;

  constructor(
    private readonly store: Store,
    bus: EventBus,
    private readonly now: () => number = Date.now,
  ) {
    this.known = new RevocableCache<KnownKey>(50_000, bus, [TOPICS.apiKeyDeleted, TOPICS.apiKeyRolled]);
  }

  verify(credential: ParsedCredential): Proof {
    const hit = this.known.peek(credential.hash);
    if (hit) return standing(hit, this.now());
    return new PendingCheck(async () =>
      standing(await this.known.get(credential.hash, () => this.find('hash', credential.hash)), this.now()),
    );
  }

  /**
   * Proves a key by id as a request with it would be proven now, for an open WebSocket relay
   * (which keeps no secret): read from the store, not the cache, since it runs after a change.
   */
  async reverify(principal: Principal): Promise<Identity | Denial> {
    return standing(await this.find('id', principal.id), this.now());
  }

  private async find(column: 'hash' | 'id', value: string): Promise<KnownKey | undefined> {
    const row = await this.store.db
      .selectFrom('api_keys')
      .select(['id', 'owner_type', 'owner_id', 'retires_at', 'rate_limit'])
      .where(column, '=', value)
      .executeTakeFirst();
    if (!row) return undefined;
    const retiresAt = row.retires_at === null ? null : Date.parse(row.retires_at);
    const rateLimit = storedRateLimit(row.rate_limit);
    return {
      id: row.id,
      retiresAt,
      reach: { kind: 'owner', owner_type: row.owner_type, owner_id: row.owner_id },
      principal: {
        kind: 'api_key',
        id: row.id,
        ...(retiresAt === null ? {} : { retiresAt }),
        ...(rateLimit ? { rate_limit: rateLimit } : {}),
        ...(rateLimit && row.owner_type === 'deployment' ? { rate_limit_replaces: true as const } : {}),
      },
    };
  }
}

/** A known key unless it is unknown or its rotation grace has ended. */
function standing(known: KnownKey | undefined, now: number): KnownKey | Denial {
  if (!known) return deny('unknown');
  return retirementDenial(known.retiresAt, now) ?? known;
}
