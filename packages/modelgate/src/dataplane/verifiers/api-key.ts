import { RevocableCache } from '../../kernel/cache.js';
import type { ParsedCredential } from '../../kernel/credential.js';
import { type Denial, deny } from '../../kernel/denial.js';
import type { EventBus } from '../../kernel/event-bus.js';
import { PendingCheck, type Verification } from '../../kernel/pending-check.js';
import type { Principal } from '../../kernel/principal.js';
import { retirementDenial } from '../../kernel/rotation.js';
import { TOPICS } from '../../kernel/topics.js';
import type { Store } from '../../store/database.js';

interface KnownKey {
  readonly id: string;
  readonly owner_type: 'deployment' | 'version';
  readonly owner_id: string;
  /** Epoch ms after which a rolled key is refused; null while it is current (X2). */
  readonly retiresAt: number | null;
  /** Built once per cached key, so a hit allocates nothing. */
  readonly principal: Principal;
}

/** Which owners' keys a deployment accepts (from its snapshot). */
export interface ApiKeyScope {
  readonly deployment_id: string;
  readonly version_id: string | null;
}

/**
 * Verifies API keys (D8). Known keys are answered synchronously from a bounded cache keyed by
 * hash, so the hot path does no store I/O; `api_key.deleted` and `api_key.rolled` evict at once
 * (X1). A rolled key is refused once its grace period has ended (X2). Unknown keys
 * become a `PendingCheck` that reaches the store, behind the gateway's failure throttling.
 */
export class ApiKeyVerifier {
  private readonly known: RevocableCache<KnownKey>;

  constructor(
    private readonly store: Store,
    bus: EventBus,
    private readonly now: () => number = Date.now,
  ) {
    this.known = new RevocableCache<KnownKey>(50_000, bus, [TOPICS.apiKeyDeleted, TOPICS.apiKeyRolled]);
  }

  check(credential: ParsedCredential, scope: ApiKeyScope): Verification {
    const hit = this.known.peek(credential.hash);
    if (hit) return decide(hit, scope, this.now());
    return new PendingCheck(async () =>
      decide(await this.known.get(credential.hash, () => this.find('hash', credential.hash)), scope, this.now()),
    );
  }

  /**
   * Decides a key by id as a request with it would be decided now, for an open WebSocket relay
   * (which keeps no secret): read from the store, not the cache, since it runs after a change.
   */
  async recheck(id: string, scope: ApiKeyScope): Promise<Principal | Denial> {
    return decide(await this.find('id', id), scope, this.now());
  }

  private async find(column: 'hash' | 'id', value: string): Promise<KnownKey | undefined> {
    const row = await this.store.db
      .selectFrom('api_keys')
      .select(['id', 'owner_type', 'owner_id', 'retires_at'])
      .where(column, '=', value)
      .executeTakeFirst();
    if (!row) return undefined;
    const retiresAt = row.retires_at === null ? null : Date.parse(row.retires_at);
    return {
      id: row.id,
      owner_type: row.owner_type,
      owner_id: row.owner_id,
      retiresAt,
      principal: retiresAt === null ? { kind: 'api_key', id: row.id } : { kind: 'api_key', id: row.id, retiresAt },
    };
  }
}

function decide(known: KnownKey | undefined, scope: ApiKeyScope, now: number): Principal | Denial {
  if (!known) return deny('unknown');
  const retired = retirementDenial(known.retiresAt, now);
  if (retired) return retired;
  const inScope =
    (known.owner_type === 'deployment' && known.owner_id === scope.deployment_id) ||
    (known.owner_type === 'version' && known.owner_id === scope.version_id);
  if (!inScope) return deny('forbidden', 'This API key is for another deployment');
  return known.principal;
}
