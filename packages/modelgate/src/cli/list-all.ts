import { ModelgateApiError, type Page, PagedList } from '@modelgate/client';
import { ModelgateError } from '../kernel/errors.js';

/** What `listAll` needs of a management client: one GET. */
export interface ListClient {
  request<T = unknown>(method: 'GET', path: string): Promise<T>;
}

/**
 * Every item of a paged list endpoint: follows `next_cursor` until the last page (with the SDK's
 * `PagedList`, so the CLI and the SDK page alike: a cursor the server already gave is an error,
 * not a silently short list) and returns the first page's body with the items of all pages
 * under `key` (and no cursor).
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
  type ListPage = Page & Record<string, unknown>;
  let first: ListPage | undefined;
  const pages = new PagedList<unknown>(
    async (cursor) => {
      const page = await client.request<ListPage>(
        'GET',
        cursor === undefined ? path : `${path}${path.includes('?') ? '&' : '?'}cursor=${encodeURIComponent(cursor)}`,
      );
      first ??= page;
      return page;
    },
    (page) => (page as ListPage)[key] as unknown[] | undefined,
  );
  let items: unknown[];
  try {
    items = await pages.toArray();
  } catch (err) {
    if (err instanceof ModelgateApiError) throw new ModelgateError('CLI_REQUEST_FAILED', err.message);
    throw err;
  }
  const { next_cursor: _, ...rest } = first ?? {};
  return { ...rest, [key]: items } as R;
}
