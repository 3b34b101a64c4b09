/**
 * Whether a sign-in session is still good at `now`: it ends at its absolute expiry (fixed at
 * sign-in) and after `idleMs` without a request. Pure, so tests give it any clock.
 *
 * @example
 * ```ts
 * sessionState({ last_seen_at: '2026-01-01T00:00:00Z', expires_at: '2026-01-01T12:00:00Z' },
 *   Date.parse('2026-01-01T02:00:00Z'), 3600_000); // 'idle'
 * ```
 */
export function sessionState(
  session: { readonly last_seen_at: string; readonly expires_at: string },
  now: number,
  idleMs: number,
): 'active' | 'idle' | 'expired' {
  if (now >= Date.parse(session.expires_at)) return 'expired';
  if (now >= Date.parse(session.last_seen_at) + idleMs) return 'idle';
  return 'active';
}

/** `last_seen_at` is rewritten at most this often, so a busy console is not a write per request. */
export function shouldTouch(lastSeenAt: string, now: number, idleMs: number): boolean {
  return now - Date.parse(lastSeenAt) >= Math.min(60_000, idleMs / 10);
}
