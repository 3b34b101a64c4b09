import { ModelgateApiError } from './errors.js';

/** What every list answer of the management API carries besides its items. */
export interface Page {
  /** Pass back as `cursor` for the following page; `null` (or absent) after the last page. */
  readonly next_cursor?: string | null | undefined;
}

/**
 * Every item of a paged list, fetched page by page as the loop asks for them: iterate it with
 * `for await`, or gather everything with {@link PagedList.toArray}. Nothing is fetched until the
 * loop starts; each iteration starts again from the first page.
 *
 * @example
 * ```ts
 * for await (const token of client.tokens.listAll()) console.log(token.name, token.expires_at);
 * const everyDeployment = await client.deployments.listAll().toArray();
 * ```
 */
export class PagedList<T> implements AsyncIterable<T> {
  /**
   * @param fetchPage Reads one page: the first with `cursor` undefined, then each `next_cursor`.
   * @param itemsOf The page's items (`page.tokens`, `page.deployments`, ...).
   */
  constructor(
    private readonly fetchPage: (cursor: string | undefined) => Promise<Page>,
    private readonly itemsOf: (page: Page) => readonly T[] | undefined,
  ) {}

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    const seen = new Set<string>();
    let cursor: string | undefined;
    for (;;) {
      const page = await this.fetchPage(cursor);
      yield* this.itemsOf(page) ?? [];
      const next = page.next_cursor;
      if (typeof next !== 'string' || next === '') return;
      // A cursor given twice would loop for ever: a server bug the caller must hear about.
      if (seen.has(next)) {
        throw new ModelgateApiError({
          status: 200,
          code: 'INVALID_RESPONSE',
          message: 'The server answered a next_cursor it had already given: the list would never end',
        });
      }
      seen.add(next);
      cursor = next;
    }
  }

  /** Every item of every page, in the server's order. */
  async toArray(): Promise<T[]> {
    const out: T[] = [];
    for await (const item of this) out.push(item);
    return out;
  }
}

/**
 * A {@link PagedList} over any paged list operation, for lists the client has no `listAll` for.
 *
 * @example
 * ```ts
 * const services = paginate(
 *   (cursor) => client.request('get', '/api/v1/services', { query: { cursor } }),
 *   (page) => page.services,
 * );
 * for await (const service of services) console.log(service.name);
 * ```
 */
export function paginate<P extends Page, T>(
  fetchPage: (cursor: string | undefined) => Promise<P>,
  itemsOf: (page: P) => readonly T[] | undefined,
): PagedList<T> {
  return new PagedList<T>(fetchPage, (page) => itemsOf(page as P));
}
