import { RevocableCache } from '../../kernel/cache.js';
import type { ParsedCredential } from '../../kernel/credential.js';
import { type Denial, deny } from '../../kernel/denial.js';
import { lifeDenial } from '../../kernel/endpoint-access.js';
import type { ChangeEvent, EventBus } from '../../kernel/event-bus.js';
import { PendingCheck } from '../../kernel/pending-check.js';
import type { Principal } from '../../kernel/principal.js';
import { TOPICS } from '../../kernel/topics.js';
import { findTokenByHash, findTokenById, type StoredToken } from '../../store/api-token-lookup.js';
import type { Store } from '../../store/database.js';
import type { Identity, Proof, Verifier } from '../verifier.js';

interface KnownToken extends StoredToken, Identity {}

/**
 * Verifies API tokens on the data plane (B5): proves the token is usable (not expired, retired
 * or owned by a disabled user), its endpoint access and its owner; `authorize` holds that
 * against the deployment (the endpoint access covers it, the owner may read it now). A known
 * token is proven synchronously from a bounded cache keyed by hash, so the hot path does no
 * store I/O. `api_token.deleted` and `api_token.rolled` evict it by id and `access.changed`
 * evicts every token of the user it names (or all), on every process (X1). An unknown token
 * becomes a `PendingCheck`, run behind the gateway's failure throttling.
 */
export class ApiTokenVerifier implements Verifier<ParsedCredential> {
  private readonly known: RevocableCache<KnownToken>;

  constructor(
    private readonly store: Store,
    bus: EventBus,
    private readonly now: () => number = Date.now,
  ) {
    this.known = new RevocableCache<KnownToken>(50_000, bus, evictions);
  }

  verify(credential: ParsedCredential): Proof {
    const hit = this.known.peek(credential.hash);
    if (hit) return this.standing(hit);
    return new PendingCheck(async () =>
      this.standing(await this.known.get(credential.hash, () => this.load(findTokenByHash, credential.hash))),
    );
  }

  /**
   * Proves a token by id as a request with it would be proven now, for an open WebSocket relay
   * (which keeps no secret): read from the store, not the cache, since it runs after a change.
   */
  async reverify(principal: Principal): Promise<Identity | Denial> {
    return this.standing(await this.load(findTokenById, principal.id));
  }

  /** The token unless it is unknown or no longer usable (expired, retired, owner disabled). */
  private standing(token: KnownToken | undefined): KnownToken | Denial {
    if (!token) return deny('unknown');
    return lifeDenial(token, this.now()) ?? token;
  }

  private async load(
    find: (store: Store, key: string) => Promise<StoredToken | undefined>,
    key: string,
  ): Promise<KnownToken | undefined> {
    const token = await find(this.store, key);
    if (!token) return undefined;
    const principal: Principal = {
      kind: 'api_token',
      id: token.id,
      owner: token.user_id,
      ...(token.retiresAt === null ? {} : { retiresAt: token.retiresAt }),
      ...(token.rateLimit ? { rate_limit: token.rateLimit } : {}),
    };
    return { ...token, principal, reach: { kind: 'endpoints', access: token.endpoint }, issuer: token.user_id };
  }
}

/** `api_token.deleted` and `api_token.rolled` evict one token by id; `access.changed` every token of a user, or all. */
function evictions(event: ChangeEvent): ((token: KnownToken) => boolean) | undefined {
  if (event.topic === TOPICS.apiTokenDeleted || event.topic === TOPICS.apiTokenRolled) {
    return (token) => token.id === event.subject;
  }
  if (event.topic === TOPICS.accessChanged) {
    return event.subject === '*' ? () => true : (token) => token.user_id === event.subject;
  }
  return undefined;
}
