import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { holds } from '../api';
import { Field, InlineForm } from '../forms';
import { GrantsTable, type PlaceKind } from '../grants';
import { href } from '../router';
import { useSession } from '../session';
import { ItemTable, useDeleteConfirm } from '../tables';
import { Link, PageTitle, Problem, RowButton, Section, useAction, useLoad, when } from '../ui';

const PRIVILEGES = ['admin', 'create_service'] as const;
type Privilege = (typeof PRIVILEGES)[number];

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
  const action = useAction();
  const deleting = useDeleteConfirm(
    'user',
    (name: string) => name,
    (name) => client.request('delete', '/api/v1/users/{username}', { params: { username: name } }),
    users.reload,
  );
  const create = () =>
    action.run(async () => {
      await client.request('post', '/api/v1/users', { body: { username, password } });
      setUsername('');
      setPassword('');
      users.reload();
    });
  const toggle = (name: string, disabled: boolean) =>
    action.run(async () => {
      const path = disabled ? '/api/v1/users/{username}/enable' : '/api/v1/users/{username}/disable';
      await client.request('post', path, { params: { username: name } });
      users.reload();
    });
  return (
    <Section id="users" title="Users">
      <InlineForm label="New user" onSubmit={create} submitLabel="Create user" busy={action.busy}>
        <Field id="user-name" label="Username" required value={username} onValue={setUsername} />
        <Field
          id="user-password"
          label="Initial password (12+ characters)"
          type="password"
          autoComplete="new-password"
          required
          value={password}
          onValue={setPassword}
        />
      </InlineForm>
      <Problem error={users.error ?? action.error} />
      <ItemTable
        items={users.data?.users}
        empty="No users yet."
        caption="Users"
        columns={['Username', 'Groups', 'State', 'Created']}
        keyOf={(u) => u.id}
        cells={(u) => (
          <>
            <th scope="row">{u.username}</th>
            <td>{u.groups.join(', ')}</td>
            <td>{u.disabled ? 'disabled' : 'active'}</td>
            <td>{when(u.created_at)}</td>
          </>
        )}
        actions={(u) => (
          <>
            <RowButton
              label={u.disabled ? 'Enable' : 'Disable'}
              subject={u.username}
              disabled={action.busy}
              onClick={() => toggle(u.username, u.disabled)}
            />
            <RowButton label="Delete" subject={u.username} danger onClick={() => deleting.ask(u.username)} />
          </>
        )}
      />
      {deleting.dialog}
    </Section>
  );
}

function Groups(): JSX.Element {
  const { client } = useSession();
  const groups = useLoad(() => client.request('get', '/api/v1/groups', { query: { limit: '1000' } }), []);
  const [name, setName] = useState('');
  const [member, setMember] = useState<Record<string, string>>({});
  const action = useAction();
  const act = (what: () => Promise<unknown>) =>
    action.run(async () => {
      await what();
      groups.reload();
    });
  const deleting = useDeleteConfirm(
    'group',
    (group: string) => group,
    (group) => client.request('delete', '/api/v1/groups/{name}', { params: { name: group } }),
    groups.reload,
  );
  const create = () =>
    act(async () => {
      await client.request('post', '/api/v1/groups', { body: { name } });
      setName('');
    });
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
    <Section id="groups" title="Groups and global privileges">
      <InlineForm label="New group" onSubmit={create} submitLabel="Create group" busy={action.busy}>
        <Field id="group-name" label="Group name" required value={name} onValue={setName} />
      </InlineForm>
      <Problem error={groups.error ?? action.error} />
      <ItemTable
        items={groups.data?.groups}
        empty="No groups yet."
        caption="Groups"
        columns={['Group', ...PRIVILEGES, 'Members']}
        keyOf={(g) => g.name}
        cells={(g) => (
          <>
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
          </>
        )}
        actions={(g) => <RowButton label="Delete" subject={g.name} danger onClick={() => deleting.ask(g.name)} />}
      />
      {deleting.dialog}
    </Section>
  );
}

/** Dataiku's Security > Authorization tab: a place's grants, group × rights, edited in place. */
function Authorization(): JSX.Element {
  const { client } = useSession();
  const [kind, setKind] = useState<PlaceKind>('infrastructures');
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
    <Section id="authz" title="Authorization">
      <div class="row">
        <div>
          <label for="authz-kind">Grants on</label>
          <select
            id="authz-kind"
            value={kind}
            onChange={(e) => {
              setKind(e.currentTarget.value as PlaceKind);
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
      {chosen && (
        <p>
          <Link href={href(kind, chosen)}>{`Open the page of ${chosen}`}</Link>
        </p>
      )}
      {chosen && <GrantsTable kind={kind} name={chosen} />}
    </Section>
  );
}
