/** Levenshtein distance, for typo hints on short names. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/**
 * The candidate `word` most likely meant: a prefix either way, else the fewest typos (at most
 * about one in four letters); undefined when none is close.
 *
 * @example
 * ```ts
 * nearest('deplyo', ['view', 'deploy', 'admin']); // 'deploy'
 * ```
 */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let close = candidates.find((c) => c === word || c.startsWith(word) || word.startsWith(c));
  if (!close) {
    let best = Math.max(2, Math.floor(word.length / 4)) + 1;
    for (const candidate of candidates) {
      const d = editDistance(word, candidate);
      if (d < best) {
        best = d;
        close = candidate;
      }
    }
  }
  return close;
}
