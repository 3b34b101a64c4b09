import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { Field, InlineForm } from './forms';
import { useSession } from './session';
import { Table } from './tables';
import { Problem, useAction, useLoad } from './ui';

/** The rights a group may hold on each kind of place. */
const RIGHTS = {
  infrastructures: ['view', 'deploy', 'admin'],
  services: ['read', 'write', 'deploy', 'admin'],
} as const;

/** The places that carry grants: an infrastructure or a service (their API paths' first segment). */
export type PlaceKind = keyof typeof RIGHTS;

/**
 * Dataiku's Security > Authorization table of one place: its owner, then a row per group and a
 * column per right, ticked in place when the API says the caller may change them
 * (`caller_may_change`), as text otherwise; and a form to grant one more group.
 *
 * @example
 * ```tsx
 * <GrantsTable kind="services" name="sentiment" />
 * ```
 */
export function GrantsTable(props: { kind: PlaceKind; name: string }): JSX.Element {
  const { client } = useSession();
  const { kind, name } = props;
  const base = kind === 'infrastructures' ? '/api/v1/infrastructures/{name}/grants' : '/api/v1/services/{name}/grants';
  const grants = useLoad(() => client.request('get', base, { params: { name } }), [kind, name]);
  const [group, setGroup] = useState('');
  const action = useAction();
  const rights: readonly string[] = RIGHTS[kind];

  const set = (g: string, next: string[]) =>
    action.run(async () => {
      const params = { name, group: g };
      if (next.length === 0) {
        await client.request('delete', `${base}/{group}` as '/api/v1/services/{name}/grants/{group}', { params });
      } else if (kind === 'infrastructures') {
        await client.request('put', '/api/v1/infrastructures/{name}/grants/{group}', {
          params,
          body: { rights: next as ('view' | 'deploy' | 'admin')[] },
        });
      } else {
        await client.request('put', '/api/v1/services/{name}/grants/{group}', {
          params,
          body: { rights: next as ('read' | 'write' | 'deploy' | 'admin')[] },
        });
      }
      grants.reload();
    });

  const rows = grants.data?.grants ?? [];
  // The API's own answer (absent from an older node: offered, and the API decides).
  const mayChange = grants.data !== undefined && grants.data.caller_may_change !== false;
  return (
    <>
      <p>Owner: {grants.data?.owner ?? 'none'}</p>
      <Problem error={grants.error ?? action.error} />
      <Table
        caption={`Grants on ${kind === 'infrastructures' ? 'infrastructure' : 'service'} ${name}`}
        columns={['Group', ...rights]}
        showCaption
      >
        {rows.map((g) => (
          <tr key={g.group}>
            <th scope="row">{g.group}</th>
            {rights.map((r) => (
              <td key={r}>
                {mayChange ? (
                  <input
                    type="checkbox"
                    aria-label={`${g.group}: ${r}`}
                    checked={g.rights.includes(r)}
                    disabled={action.busy}
                    onChange={(e) =>
                      set(g.group, e.currentTarget.checked ? [...g.rights, r] : g.rights.filter((x) => x !== r))
                    }
                  />
                ) : g.rights.includes(r) ? (
                  'yes'
                ) : (
                  'no'
                )}
              </td>
            ))}
          </tr>
        ))}
      </Table>
      {mayChange && (
        <InlineForm
          label="Grant a group"
          onSubmit={() => {
            set(group.trim(), [rights[0]!]);
            setGroup('');
          }}
          submitLabel="Add group"
          busy={action.busy}
        >
          <Field
            id="grant-group"
            label={`Grant a group ${rights[0]} on ${name}`}
            required
            value={group}
            onValue={setGroup}
          />
        </InlineForm>
      )}
    </>
  );
}
