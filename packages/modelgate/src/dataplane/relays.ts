import type { Duplex } from 'node:stream';
import { type Denial, isDenial } from '../kernel/denial.js';
import type { ChangeEvent } from '../kernel/event-bus.js';
import { type Principal, retiresAtOf } from '../kernel/principal.js';
import { TOPICS } from '../kernel/topics.js';
import type { Logger } from '../log/logger.js';

/** What a revocation needs to find an open WebSocket relay: names and ids, never the credential. */
export interface Relay {
  readonly deployment: string;
  /** Who opened it: kind and id, with the owner and retirement time where the credential has them. */
  readonly principal: Principal;
  readonly requestId: string;
}

/** The decisions the relays defer to: the gateway's own, so a relay is judged like a new request. */
export interface RelayChecks {
  /** Whether the platform JWT with this `jti` is revoked now. */
  jwtRevoked(jti: string): Promise<boolean>;
  /** The relay's principal as a new request to its deployment would be decided now. */
  recheck(relay: Relay): Principal | Denial | Promise<Principal | Denial>;
}

interface OpenRelay extends Relay {
  readonly socket: Duplex;
  /** Closes the relay when its credential retires (X2). */
  retirement?: NodeJS.Timeout;
}

/** What a change does to one relay: close it, decide its principal again, ask about its JWT. */
type Effect = 'close' | 'recheck' | 'jwt' | undefined;

/** The topics `effectOf` acts on. */
const RELAY_TOPICS: ReadonlySet<string> = new Set([
  TOPICS.deploymentChanged,
  TOPICS.apiKeyDeleted,
  TOPICS.apiTokenDeleted,
  TOPICS.apiKeyRolled,
  TOPICS.apiTokenRolled,
  TOPICS.accessChanged,
  TOPICS.jwtRevoked,
]);

/** `setTimeout`'s longest delay (about 24.8 days); a longer grace waits in several steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The open WebSocket relays of one gateway. The handshake was a relay's only check, so every
 * change that could revoke it is applied here too: a changed deployment, a deleted key or token
 * and a revoked platform JWT close it; a rolled key or token, and a change to the access of the
 * person behind a credential (an API token's owner, a platform JWT's issuing user: grants, groups,
 * ownerships, the person disabled or deleted), decide its principal
 * again as a new request would be decided, closing it when refused; a credential in its rotation
 * grace closes its relays when it retires. A handshake admitted while a change arrived answers to
 * that change too, once it is a relay (`watch`).
 *
 * @example
 * ```ts
 * const relays = new OpenRelays(checks, log);
 * bus.subscribe((event) => relays.changed(event));
 * const missed = relays.watch(); // before admission
 * relays.add(socket, { deployment: 'chat', principal, requestId }, missed);
 * ```
 */
export class OpenRelays {
  readonly #open = new Set<OpenRelay>();
  /** The changes seen by each handshake still being admitted (see `watch`). */
  readonly #watching = new Set<ChangeEvent[]>();

  constructor(
    private readonly checks: RelayChecks,
    private readonly log: Logger,
  ) {}

  /** Open relays (read at scrape time: `modelgate_open_streams`). */
  get size(): number {
    return this.#open.size;
  }

  /**
   * Starts collecting the changes that arrive while a handshake is being admitted: one decided
   * on a credential read before a change must still answer to it once it is a relay. Hand the
   * list to `add`, or to `unwatch` when there will be no relay.
   */
  watch(): ChangeEvent[] {
    const missed: ChangeEvent[] = [];
    this.#watching.add(missed);
    return missed;
  }

  unwatch(missed: ChangeEvent[]): void {
    this.#watching.delete(missed);
  }

  /**
   * Tracks a relay until its socket closes (a caller that already left is not tracked), after
   * applying the changes it `missed` while its handshake was admitted.
   */
  add(socket: Duplex, relay: Relay, missed: ChangeEvent[] = []): void {
    this.unwatch(missed);
    if (socket.destroyed) return;
    const open: OpenRelay = { ...relay, socket };
    this.#open.add(open);
    socket.once('close', () => {
      this.#open.delete(open);
      clearTimeout(open.retirement);
    });
    this.retireAt(open, retiresAtOf(relay.principal));
    for (const event of missed) void this.apply(open, event, new Map());
  }

  /** A bus listener: closes what `event` revokes, and resolves once it is closed. */
  async changed(event: ChangeEvent): Promise<void> {
    if (!RELAY_TOPICS.has(event.topic)) return;
    for (const missed of this.#watching) missed.push(event);
    // One decision per credential and deployment, however many relays share them.
    const rechecks = new Map<string, Promise<Principal | Denial>>();
    const pending: Promise<void>[] = [];
    for (const open of this.#open) pending.push(this.apply(open, event, rechecks));
    await Promise.all(pending);
  }

  /** Applies one change to one relay; `rechecks` shares decisions between relays. */
  private async apply(
    open: OpenRelay,
    event: ChangeEvent,
    rechecks: Map<string, Promise<Principal | Denial>>,
  ): Promise<void> {
    const effect = effectOf(event, open);
    if (effect === undefined) return;
    if (effect === 'close') {
      this.close(open, event.topic);
      return;
    }
    let decided: Principal | Denial | boolean;
    try {
      if (effect === 'jwt') decided = await this.checks.jwtRevoked(open.principal.id);
      else {
        const key = `${open.principal.kind}:${open.principal.id}|${open.deployment}`;
        let verdict = rechecks.get(key);
        if (verdict === undefined) {
          verdict = Promise.resolve().then(() => this.checks.recheck(open));
          rechecks.set(key, verdict);
        }
        decided = await verdict;
      }
    } catch (err) {
      // Unsure is closed: the caller reconnects and is decided like any new request.
      this.log.warn({ err: String(err), request_id: open.requestId }, 'websocket relay re-check failed');
      this.close(open, event.topic);
      return;
    }
    // A revoked JWT, or a principal refused now, closes; one still admitted may now retire.
    if (decided === true) this.close(open, event.topic, 'revoked');
    else if (isDenial(decided)) this.close(open, event.topic, decided.denied);
    else if (decided !== false) this.retireAt(open, retiresAtOf(decided));
  }

  /** Closes the relay at `at` (epoch ms), at once when that has passed; none when undefined. */
  private retireAt(open: OpenRelay, at: number | undefined): void {
    clearTimeout(open.retirement);
    if (at === undefined) return;
    const wait = at - Date.now();
    if (wait <= 0) {
      this.close(open, 'retired', 'expired');
      return;
    }
    open.retirement = setTimeout(() => this.retireAt(open, at), Math.min(wait, MAX_TIMER_MS));
    open.retirement.unref();
  }

  private close(open: OpenRelay, why: string, reason?: Denial['denied']): void {
    if (open.socket.destroyed) return;
    const principal = `${open.principal.kind}:${open.principal.id}`;
    this.log.info(
      { request_id: open.requestId, deployment: open.deployment, principal, why, reason },
      'websocket relay closed',
    );
    open.socket.destroy();
  }
}

/** What a change does to one relay (subjects are ids or names, see `TOPICS`). */
function effectOf(event: ChangeEvent, relay: Relay): Effect {
  const { kind, id } = relay.principal;
  const owner =
    relay.principal.kind === 'api_token' || relay.principal.kind === 'platform_jwt' ? relay.principal.owner : undefined;
  switch (event.topic) {
    case TOPICS.deploymentChanged:
      return relay.deployment === event.subject ? 'close' : undefined;
    case TOPICS.apiKeyDeleted:
      return kind === 'api_key' && id === event.subject ? 'close' : undefined;
    case TOPICS.apiTokenDeleted:
      return kind === 'api_token' && id === event.subject ? 'close' : undefined;
    case TOPICS.apiKeyRolled:
      return kind === 'api_key' && id === event.subject ? 'recheck' : undefined;
    case TOPICS.apiTokenRolled:
      return kind === 'api_token' && id === event.subject ? 'recheck' : undefined;
    case TOPICS.accessChanged:
      // A person's credential (an API token, a JWT a user issued) answers to that person's access.
      return owner !== undefined && (event.subject === '*' || owner === event.subject) ? 'recheck' : undefined;
    case TOPICS.jwtRevoked:
      return kind === 'platform_jwt' ? 'jwt' : undefined;
    default:
      return undefined;
  }
}
