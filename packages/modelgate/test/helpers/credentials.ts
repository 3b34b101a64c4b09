/**
 * The credential with its last character changed (so its CRC32 suffix no longer matches), always
 * to a different character: replacing it with a fixed one would leave it valid when it already
 * ended in that character (1 time in 62).
 *
 * @example
 * ```ts
 * withBrokenChecksum('mgk_abc...XYZ'); // 'mgk_abc...XYA'
 * ```
 */
export function withBrokenChecksum(credential: string): string {
  return `${credential.slice(0, -1)}${credential.endsWith('A') ? 'B' : 'A'}`;
}
