/** What `listAll` needs of a management client: one GET. */
export interface ListClient {
  request<T = unknown>(method: 'GET', path: string): Promise<T>;
}

/**
 * Every item of a paged list endpoint: follows `next_cursor` until the last page and returns
 * the first page's body with the items of all pages under `key` (and no cursor).
 *
 * @example
 * ```ts
 * const { deployments } = await readAllPages<{ deployments: DeploymentInfo[] }>(client, '/api/v1/deployments', 'deployments');
 * ```
 */
export async function readAllPages<R extends object>(
  client: ListClient,
  path: string,
  key: keyof R & string,
): Promise<R> {
  type Page = Record<string, unknown> & { next_cursor?: string | null };
  const first = await client.request<Page>('GET', path);
  const items = [...((first[key] as unknown[] | undefined) ?? [])];
  let cursor = first.next_cursor;
  const seen = new Set<string>();
  // A cursor seen before would loop for ever: a server bug, not a reason to hang the CLI.
  while (typeof cursor === 'string' && cursor !== '' && !seen.has(cursor)) {
    seen.add(cursor);
    const page = await client.request<Page>(
      'GET',
      `${path}${path.includes('?') ? '&' : '?'}cursor=${encodeURIComponent(cursor)}`,
    );
    items.push(...((page[key] as unknown[] | undefined) ?? []));
    cursor = page.next_cursor;
  }
  const { next_cursor: _, ...rest } = first;
  return { ...rest, [key]: items } as R;
}
