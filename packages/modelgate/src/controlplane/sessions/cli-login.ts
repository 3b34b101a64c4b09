import { createHash } from 'node:crypto';
import { constantTimeEqual, randomBase62 } from '../../kernel/credential.js';
import type { Principal } from '../../kernel/principal.js';

/** How long an approved browser login waits for the CLI to exchange its code. */
export const CLI_LOGIN_TTL_MS = 120_000;
/** Approved logins waiting at most (a backstop: each lives two minutes). */
const MAX_PENDING = 1000;

/** What the signed-in user approved in the console: who, the token to make, and the CLI's PKCE challenge. */
export interface ApprovedLogin<T> {
  readonly user: Principal & { kind: 'user' };
  readonly token: T;
  readonly challenge: string;
}

/** RFC 7636 S256: `base64url(sha256(verifier))`. */
export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

/**
 * Browser logins for the CLI (RFC 8252 with PKCE): the console's approval leaves a one-time code
 * here, which the CLI, back on its loopback port, exchanges with the verifier only it knows. In
 * memory: a code is good for {@link CLI_LOGIN_TTL_MS} on the node that issued it, once.
 */
export class PendingCliLogins<T> {
  private readonly pending = new Map<string, ApprovedLogin<T> & { readonly expires: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Keeps an approval; @returns its one-time code. */
  approve(login: ApprovedLogin<T>): string {
    this.sweep();
    if (this.pending.size >= MAX_PENDING) this.pending.delete(this.pending.keys().next().value!);
    const code = randomBase62(43);
    this.pending.set(code, { ...login, expires: this.now() + CLI_LOGIN_TTL_MS });
    return code;
  }

  /**
   * The approval behind a code, when the verifier matches its challenge and it is still fresh.
   * A code is spent by its first exchange, whether the verifier matches or not ({@link restore}
   * puts back one whose token could not be made).
   */
  exchange(code: unknown, verifier: unknown): ApprovedLogin<T> | undefined {
    if (typeof code !== 'string' || typeof verifier !== 'string') return undefined;
    const found = this.pending.get(code);
    if (found === undefined) return undefined;
    this.pending.delete(code);
    if (found.expires <= this.now()) return undefined;
    return constantTimeEqual(pkceChallenge(verifier), found.challenge) ? found : undefined;
  }

  /** Puts back a matched approval whose token could not be made (a store failure), until its own expiry. */
  restore(code: string, login: ApprovedLogin<T>): void {
    const found = login as ApprovedLogin<T> & { readonly expires: number };
    if (found.expires > this.now()) this.pending.set(code, found);
  }

  private sweep(): void {
    const now = this.now();
    for (const [code, login] of this.pending) if (login.expires <= now) this.pending.delete(code);
  }
}
