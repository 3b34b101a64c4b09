/**
 * How many fields named `name` (lower case) a request carried, from node's raw header list:
 * cheaper than `headersDistinct`, which builds a map of every header on first use, and it sees
 * the duplicates that `req.headers` folds away. Lower-cases a name only when its length matches.
 *
 * @example
 * ```ts
 * countHeader(['Host', 'a', 'authorization', 'x', 'Authorization', 'y'], 'authorization'); // 2
 * ```
 */
export function countHeader(rawHeaders: readonly string[], name: string): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const field = rawHeaders[i]!;
    if (field.length === name.length && field.toLowerCase() === name) count++;
  }
  return count;
}
