import { randomBytes } from 'node:crypto';
import { ExpensiveCheckLimiter } from '../../http/expensive-check-limiter.js';
import { clientKey, FailureThrottle } from '../../http/failure-throttle.js';
import type { Throttle } from '../../http/throttle.js';
import { generateCredential, hashCredential, type ParsedCredential, randomBase62 } from '../../kernel/credential.js';
import { type Denial, deny } from '../../kernel/denial.js';
import { ModelgateError } from '../../kernel/errors.js';
import { hashPassword, verifyPassword } from '../../kernel/password-hash.js';
import type { Principal } from '../../kernel/principal.js';
import type { Store } from '../../store/database.js';
import { inTransaction } from '../../store/transaction.js';
import { sessionState, shouldTouch } from './expiry.js';

export interface SessionOptions {
  readonly idleTimeoutMin: number;
  readonly absoluteTimeoutMin: number;
  /** Failed sign-ins per username, and per client address, before 429. */
  readonly failureLimit: number;
  readonly failureWindowS: number;
  /** The node's one cap on scrypt work, shared fairly per client address (issue 7). */
  readonly passwordChecks?: ExpensiveCheckLimiter;
  /**
   * The sign-in throttles, by username and by client address (with `redis_url` the node passes
   * ones counted across replicas); in-process {@link FailureThrottle}s by default.
   */
  readonly throttles?: { readonly byUsername: Throttle; readonly byAddress: Throttle };
  /** Injectable clock for tests. */
  readonly now?: () => number;
}

/**
 * What {@link SessionService.check} found: the user, or a failure naming the account only when
 * the username is one (what was typed into the field may otherwise be a password).
 */
export type SignInCheck =
  | { readonly ok: true; readonly userId: string; readonly username: string }
  | { readonly ok: false; readonly account: string | undefined };

export interface SignedIn {
  readonly token: string;
  readonly expires_at: string;
  readonly username: string;
}

/**
 * Sign-in sessions (issue 8): `mgu_` credentials stored as SHA-256, checked against the store on
 * every request (no cache, so sign-out, disabling a user or deleting it is in force on the next
 * request on every process), with idle and absolute expiry.
 */
export class SessionService {
  private readonly byUsername: Throttle;
  private readonly byAddress: Throttle;
  private readonly now: () => number;
  /** Unknown usernames are checked against this, so they cost the same scrypt as a real one. */
  private readonly dummyHash: Promise<string>;
  private readonly passwordChecks: ExpensiveCheckLimiter;

  constructor(
    private readonly store: Store,
    private readonly options: SessionOptions,
  ) {
    this.now = options.now ?? Date.now;
    const throttle = { limit: options.failureLimit, windowMs: options.failureWindowS * 1000, now: this.now };
    this.byUsername = options.throttles?.byUsername ?? new FailureThrottle(throttle);
    this.byAddress = options.throttles?.byAddress ?? new FailureThrottle(throttle);
    this.passwordChecks = options.passwordChecks ?? new ExpensiveCheckLimiter(16);
    this.dummyHash = hashPassword(randomBytes(24).toString('base64url'));
  }

  get idleMs(): number {
    return this.options.idleTimeoutMin * 60_000;
  }

  /**
   * Checks a username and password and opens a session. The answer is the same for an unknown
   * user, a wrong password and a disabled user; failures are throttled per username and per
   * client address (429 with Retry-After).
   */
  async signIn(username: unknown, password: unknown, address: string | undefined): Promise<SignedIn> {
    const checked = await this.check(username, password, address);
    if (!checked.ok) throw new ModelgateError('SIGN_IN_FAILED');
    return this.open(checked.userId, checked.username);
  }

  /**
   * The first half of {@link signIn}: checks a username and password, counting a failure against
   * the throttles, without opening a session (so the caller can name the user before it does).
   * @throws THROTTLED (429) when the username or the address is over its failure limit
   */
  async check(username: unknown, password: unknown, address: string | undefined): Promise<SignInCheck> {
    const name = typeof username === 'string' ? username.toLowerCase() : '';
    const keys = [`u:${name}`, `a:${clientKey(address)}`] as const;
    const waits = await Promise.all([this.byUsername.enter(keys[0]), this.byAddress.enter(keys[1])]);
    if (waits[0] > 0 || waits[1] > 0) {
      if (waits[0] === 0) this.byUsername.release(keys[0]);
      if (waits[1] === 0) this.byAddress.release(keys[1]);
      const retry = String(Math.max(waits[0], waits[1]));
      throw new ModelgateError('THROTTLED', 'Too many failed sign-ins; retry later', {
        headers: { 'retry-after': retry },
      });
    }
    let user: { id: string; username: string; password_hash: string; disabled: number } | undefined;
    let ok = false;
    /** Whether both reservations were settled already (a refusal of the password-check cap). */
    let settled = false;
    try {
      user =
        typeof username === 'string' && username.length <= 256
          ? await this.store.db
              .selectFrom('users')
              .select(['id', 'username', 'password_hash', 'disabled'])
              .where('username', '=', username)
              .executeTakeFirst()
          : undefined;
      const secret = typeof password === 'string' && password.length <= 1024 ? password : '';
      const hash = user?.password_hash ?? (await this.dummyHash);
      const checked = await this.passwordChecks.run(clientKey(address), () => verifyPassword(secret, hash));
      if (!checked.ran) {
        // Over its own share of the cap: the flood counts against the address; a node-wide cap
        // it did not fill does not.
        settled = true;
        this.byUsername.release(keys[0]);
        if (checked.charge) await this.byAddress.fail(keys[1]);
        else this.byAddress.release(keys[1]);
        throw new ModelgateError('THROTTLED', 'Too many password checks at once; retry later', {
          headers: { 'retry-after': '1' },
        });
      }
      ok = checked.value && user !== undefined && Number(user.disabled) === 0;
    } catch (err) {
      if (!settled) {
        this.byUsername.release(keys[0]);
        this.byAddress.release(keys[1]);
      }
      throw err;
    }
    if (!ok || !user) {
      // Awaited: a lock either failure causes is in force (on every replica, with Redis) before the answer.
      await Promise.all([this.byUsername.fail(keys[0]), this.byAddress.fail(keys[1])]);
      return { ok: false, account: user?.username };
    }
    this.byUsername.release(keys[0]);
    this.byAddress.release(keys[1]);
    return { ok: true, userId: user.id, username: user.username };
  }

  /**
   * Opens a session for a user whose password was just checked ({@link check}), in a transaction
   * of its own, so whatever rides the request's first commit (its audit record) commits with it.
   */
  async open(userId: string, username: string): Promise<SignedIn> {
    const token = generateCredential('user_session');
    const now = this.now();
    const expires = new Date(now + this.options.absoluteTimeoutMin * 60_000).toISOString();
    const at = new Date(now).toISOString();
    await inTransaction(this.store, (tx) =>
      tx.db
        .insertInto('sessions')
        .values({
          id: `ses_${randomBase62(14)}`,
          hash: hashCredential(token),
          user_id: userId,
          created_at: at,
          last_seen_at: at,
          expires_at: expires,
        })
        .execute(),
    );
    return { token, expires_at: expires, username };
  }

  /** The user behind a session credential, or why not. */
  async verify(credential: ParsedCredential, viaCookie: boolean): Promise<Principal | Denial> {
    const row = await this.store.db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .select([
        'sessions.id as id',
        'sessions.last_seen_at as last_seen_at',
        'sessions.expires_at as expires_at',
        'users.id as user_id',
        'users.username as username',
        'users.disabled as disabled',
      ])
      .where('sessions.hash', '=', credential.hash)
      .executeTakeFirst();
    if (!row) return deny('unknown');
    if (Number(row.disabled) !== 0) return deny('revoked', 'The user is disabled');
    const now = this.now();
    const state = sessionState(row, now, this.idleMs);
    if (state !== 'active') {
      await this.end(row.id);
      return deny('expired', state === 'idle' ? 'The session ended after being idle' : 'The session has expired');
    }
    if (shouldTouch(row.last_seen_at, now, this.idleMs)) {
      await this.store.db
        .updateTable('sessions')
        .set({ last_seen_at: new Date(now).toISOString() })
        .where('id', '=', row.id)
        .execute();
    }
    return { kind: 'user', id: row.user_id, name: row.username, session: row.id, viaCookie };
  }

  /** Ends one session (sign-out); idempotent. A transaction, so a sign-out's audit record commits with it. */
  async end(sessionId: string): Promise<void> {
    await inTransaction(this.store, (tx) => tx.db.deleteFrom('sessions').where('id', '=', sessionId).execute());
  }
}
