import type { EventBus } from '../../events/bus.js';
import { TOPICS } from '../../events/topics.js';
import type { Store } from '../../store/database.js';
import { RevocableCache } from '../cache.js';
import type { ParsedCredential } from '../credential.js';
import { type Denial, deny } from '../denial.js';
import { PendingCheck, type Verification } from '../pending-check.js';
import type { Principal } from '../principal.js';

interface KnownKey {
  readonly id: string;
  readonly owner_type: 'deployment' | 'version';
  readonly owner_id: string;
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
 * hash, so the hot path does no store I/O; `api_key.deleted` evicts at once (X1). Unknown keys
 * become a `PendingCheck` that reaches the store, behind the gateway's failure throttling.
 */
export class ApiKeyVerifier {
  private readonly known: RevocableCache<KnownKey>;

  constructor(
    private readonly store: Store,
    bus: EventBus,
  ) {
    this.known = new RevocableCache<KnownKey>(50_000, bus, TOPICS.apiKeyDeleted);
  }

  check(credential: ParsedCredential, scope: ApiKeyScope): Verification {
    const hit = this.known.peek(credential.hash);
    if (hit) return decide(hit, scope);
    return new PendingCheck(async () =>
      decide(await this.known.get(credential.hash, () => this.find(credential)), scope),
    );
  }

  private async find(credential: ParsedCredential): Promise<KnownKey | undefined> {
    const row = await this.store.db
      .selectFrom('api_keys')
      .select(['id', 'owner_type', 'owner_id'])
      .where('hash', '=', credential.hash)
      .executeTakeFirst();
    return row && { ...row, principal: { kind: 'api_key', id: row.id } };
  }
}

function decide(known: KnownKey | undefined, scope: ApiKeyScope): Principal | Denial {
  if (!known) return deny('unknown');
  const inScope =
    (known.owner_type === 'deployment' && known.owner_id === scope.deployment_id) ||
    (known.owner_type === 'version' && known.owner_id === scope.version_id);
  if (!inScope) return deny('forbidden', 'This API key is for another deployment');
  return known.principal;
}
