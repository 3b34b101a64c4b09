import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { holds } from '../api';
import { useSession } from '../session';
import { DeleteConfirm, Field, PageTitle, Problem, RowButton, Table, useAction, useLoad, when } from '../ui';

const PRIVILEGES = ['admin', 'create_service'] as const;
type Privilege = (typeof PRIVILEGES)[number];
const RIGHTS = {
  infrastructures: ['view', 'deploy', 'admin'],
  services: ['read', 'write', 'deploy', 'admin'],
} as const;
type Kind = keyof typeof RIGHTS;

/** Dataiku's Security pages: users, groups with their global privileges, and the grants of each place. */
export function PeoplePage(): JSX.Element {
  // Users and groups are the global admin's alone (the API refuses everyone else); the grants of
  // a place are shown to whoever may see it and editable by whoever the API says may change them.
  const admin = holds(useSession().me, 'admin');
  return (
    <>
      <PageTitle>People and access</PageTitle>
      {admin && <Users />}
      {admin && <Groups />}
      <Authorization />
    </>
  );
}

function Users(): JSX.Element {
  const { client } = useSession();
  const users = useLoad(() => client.request('get', '/api/v1/users', { query: { limit: '1000' } }), []);
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [deleting, setDeleting] = useState<string | undefined>(undefined);
  const action = useAction();
  const create = (e: Event) => {
    e.preventDefault();
    action.run(async () => {
      await client.request('post', '/api/v1/users', { body: { username, password } });
      setUsername('');
      setPassword('');
      users.reload();
    });
  };
  const toggle = (name: string, disabled: boolean) =>
    action.run(async () => {
      const path = disabled ? '/api/v1/users/{username}/enable' : '/api/v1/users/{username}/disable';
      await client.request('post', path, { params: { username: name } });
      users.reload();
    });
  return (
    <section aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      <form class="row" onSubmit={create} aria-label="New user">
        <div class="grow">
          <Field id="user-name" label="Username" required value={username} onValue={setUsername} />
        </div>
        <div class="grow">
          <Field
            id="user-password"
            label="Initial password (12+ characters)"
            type="password"
            autoComplete="new-password"
            required
            value={password}
            onValue={setPassword}
          />
        </div>
        <button type="submit" disabled={action.busy}>
          Create user
        </button>
      </form>
      <Problem error={users.error ?? action.error} />
      {users.data && (
        <Table caption="Users" columns={['Username', 'Groups', 'State', 'Created', 'Actions']}>
          {users.data.users.map((u) => (
            <tr key={u.id}>
              <th scope="row">{u.username}</th>
              <td>{u.groups.join(', ')}</td>
              <td>{u.disabled ? 'disabled' : 'active'}</td>
              <td>{when(u.created_at)}</td>
              <td class="actions">
                <RowButton
                  label={u.disabled ? 'Enable' : 'Disable'}
                  subject={u.username}
                  disabled={action.busy}
                  onClick={() => toggle(u.username, u.disabled)}
                />
                <RowButton label="Delete" subject={u.username} danger onClick={() => setDeleting(u.username)} />
              </td>
            </tr>
          ))}
        </Table>
      )}
      <DeleteConfirm
        what="user"
        name={deleting}
        onDelete={async (n) => {
          await client.request('delete', '/api/v1/users/{username}', { params: { username: n } });
          users.reload();
        }}
        onClose={() => setDeleting(undefined)}
      />
    </section>
  );
}

function Groups(): JSX.Element {
  const { client } = useSession();
  const groups = useLoad(() => client.request('get', '/api/v1/groups', { query: { limit: '1000' } }), []);
  const [name, setName] = useState('');
  const [member, setMember] = useState<Record<string, string>>({});
  const [deleting, setDeleting] = useState<string | undefined>(undefined);
  const action = useAction();
  const act = (what: () => Promise<unknown>) =>
    action.run(async () => {
      await what();
      groups.reload();
    });
  const create = (e: Event) => {
    e.preventDefault();
    act(async () => {
      await client.request('post', '/api/v1/groups', { body: { name } });
      setName('');
    });
  };
  const setPrivilege = (group: string, current: Privilege[], p: Privilege, on: boolean) =>
    act(() =>
      client.request('patch', '/api/v1/groups/{name}', {
        params: { name: group },
        body: { privileges: on ? [...current, p] : current.filter((x) => x !== p) },
      }),
    );
  const addMember = (group: string) =>
    act(async () => {
      await client.request('put', '/api/v1/groups/{name}/members/{username}', {
        params: { name: group, username: (member[group] ?? '').trim() },
      });
      setMember({ ...member, [group]: '' });
    });
  return (
    <section aria-labelledby="groups-title">
      <h2 id="groups-title">Groups and global privileges</h2>
      <form class="row" onSubmit={create} aria-label="New group">
        <div class="grow">
          <Field id="group-name" label="Group name" required value={name} onValue={setName} />
        </div>
        <button type="submit" disabled={action.busy}>
          Create group
        </button>
      </form>
      <Problem error={groups.error ?? action.error} />
      {groups.data && (
        <Table caption="Groups" columns={['Group', ...PRIVILEGES, 'Members', 'Actions']}>
          {groups.data.groups.map((g) => (
            <tr key={g.name}>
              <th scope="row">{g.name}</th>
              {PRIVILEGES.map((p) => (
                <td key={p}>
                  <input
                    type="checkbox"
                    aria-label={`${g.name}: ${p}`}
                    checked={g.privileges.includes(p)}
                    disabled={action.busy}
                    onChange={(e) => setPrivilege(g.name, g.privileges, p, e.currentTarget.checked)}
                  />
                </td>
              ))}
              <td>
                <ul class="plain">
                  {g.members.map((m) => (
                    <li key={m}>
                      {m}{' '}
                      <RowButton
                        label="Remove"
                        subject={`${m} from ${g.name}`}
                        onClick={() =>
                          act(() =>
                            client.request('delete', '/api/v1/groups/{name}/members/{username}', {
                              params: { name: g.name, username: m },
                            }),
                          )
                        }
                      />
                    </li>
                  ))}
                </ul>
                <form
                  class="row"
                  aria-label={`Add a member to ${g.name}`}
                  onSubmit={(e) => {
                    e.preventDefault();
                    addMember(g.name);
                  }}
                >
                  <label class="visually-hidden" for={`member-${g.name}`}>
                    Username to add to {g.name}
                  </label>
                  <input
                    id={`member-${g.name}`}
                    placeholder="username"
                    value={member[g.name] ?? ''}
                    onInput={(e) => setMember({ ...member, [g.name]: e.currentTarget.value })}
                  />
                  <button type="submit" class="secondary">
                    Add<span class="visually-hidden"> to {g.name}</span>
                  </button>
                </form>
              </td>
              <td class="actions">
                <RowButton label="Delete" subject={g.name} danger onClick={() => setDeleting(g.name)} />
              </td>
            </tr>
          ))}
        </Table>
      )}
      <DeleteConfirm
        what="group"
        name={deleting}
        onDelete={async (n) => {
          await client.request('delete', '/api/v1/groups/{name}', { params: { name: n } });
          groups.reload();
        }}
        onClose={() => setDeleting(undefined)}
      />
    </section>
  );
}

/** Dataiku's Security > Authorization tab: a place's grants, group × rights, edited in place. */
function Authorization(): JSX.Element {
  const { client } = useSession();
  const [kind, setKind] = useState<Kind>('infrastructures');
  const [place, setPlace] = useState('');
  const places = useLoad(
    () =>
      kind === 'infrastructures'
        ? client
            .request('get', '/api/v1/infrastructures', { query: { limit: '1000' } })
            .then((r) => r.infrastructures.map((i) => i.name))
        : client
            .request('get', '/api/v1/services', { query: { limit: '1000' } })
            .then((r) => r.services.map((s) => s.name)),
    [kind],
  );
  const chosen = place || places.data?.[0] || '';
  return (
    <section aria-labelledby="authz-title">
      <h2 id="authz-title">Authorization</h2>
      <div class="row">
        <div>
          <label for="authz-kind">Grants on</label>
          <select
            id="authz-kind"
            value={kind}
            onChange={(e) => {
              setKind(e.currentTarget.value as Kind);
              setPlace('');
            }}
          >
            <option value="infrastructures">an infrastructure</option>
            <option value="services">a service</option>
          </select>
        </div>
        <div class="grow">
          <label for="authz-place">{kind === 'infrastructures' ? 'Infrastructure' : 'Service'}</label>
          <select id="authz-place" value={chosen} onChange={(e) => setPlace(e.currentTarget.value)}>
            {(places.data ?? []).map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </div>
      </div>
      <Problem error={places.error} />
      {chosen && <GrantsTable kind={kind} name={chosen} />}
    </section>
  );
}

function GrantsTable(props: { kind: Kind; name: string }): JSX.Element {
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
        <form
          class="row"
          aria-label="Grant a group"
          onSubmit={(e) => {
            e.preventDefault();
            set(group.trim(), [rights[0]!]);
            setGroup('');
          }}
        >
          <div class="grow">
            <Field
              id="grant-group"
              label={`Grant a group ${rights[0]} on ${name}`}
              required
              value={group}
              onValue={setGroup}
            />
          </div>
          <button type="submit" disabled={action.busy}>
            Add group
          </button>
        </form>
      )}
    </>
  );
}
