import type { components } from '@modelgate/client';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { href } from '../router';
import { useSession } from '../session';
import {
  Check,
  DeleteConfirm,
  Field,
  Link,
  PageTitle,
  Problem,
  RowButton,
  ShownOnce,
  Table,
  useAction,
  useLoad,
  when,
} from '../ui';

type Secret = components['schemas']['Secret'];
type Deployment = components['schemas']['Deployment'];

/**
 * Gradient's secrets: names only (a value is never shown again, except one the node generated,
 * once), which deployments read each, and which of those still serve the value of their last
 * deploy (Gradient's snapshot rule): a Redeploy button picks up the current one.
 */
export function SecretsPage(): JSX.Element {
  const { client } = useSession();
  const secrets = useLoad(() => client.request('get', '/api/v1/secrets', { query: { limit: '1000' } }), []);
  const deployments = useLoad(() => client.request('get', '/api/v1/deployments', { query: { limit: '1000' } }), []);
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [generate, setGenerate] = useState(false);
  const [editing, setEditing] = useState<string | undefined>(undefined);
  const [deleting, setDeleting] = useState<string | undefined>(undefined);
  const [shown, setShown] = useState<{ name: string; value: string } | undefined>(undefined);
  const action = useAction();

  const reload = () => {
    secrets.reload();
    deployments.reload();
  };
  const create = (e: Event) => {
    e.preventDefault();
    action.run(async () => {
      const made = await client.request('post', '/api/v1/secrets', {
        body: generate ? { name, generate: true } : { name, value },
      });
      if (made.value) setShown({ name, value: made.value });
      setName('');
      setValue('');
      reload();
    });
  };
  const redeploy = (d: Deployment) =>
    action.run(async () => {
      await client.deployments.redeploy(d.name);
      reload();
    });

  // The API's own answer per secret (absent from an older node: offered, and the API decides).
  const anyChangeable = (secrets.data?.secrets ?? []).some((s) => s.caller_may_change !== false);
  const users = (s: Secret) => (deployments.data?.deployments ?? []).filter((d) => d.auth.basic_secret === s.name);
  return (
    <>
      <PageTitle>Secrets</PageTitle>
      <p class="hint">
        A deployment's HTTP Basic password is the value of its secret as it was at its last (re)deploy. After a change,
        redeploy each deployment that reads the secret.
      </p>
      <form class="panel" onSubmit={create} aria-label="New secret">
        <h2>New secret</h2>
        <Field id="secret-name" label="Name" required value={name} onValue={setName} />
        <Check checked={generate} onChange={setGenerate}>
          Generate a value (shown once)
        </Check>
        {!generate && (
          <Field
            id="secret-value"
            label="Value"
            type="password"
            autoComplete="new-password"
            required
            value={value}
            onValue={setValue}
          />
        )}
        <button type="submit" disabled={action.busy}>
          Create secret
        </button>
      </form>
      {shown && <ShownOnce label={`Value of ${shown.name}`} value={shown.value} onDone={() => setShown(undefined)} />}
      <Problem error={secrets.error ?? deployments.error ?? action.error} />
      {editing && (
        <SecretValueForm
          name={editing}
          onDone={(generated) => {
            setEditing(undefined);
            if (generated) setShown({ name: editing, value: generated });
            reload();
          }}
        />
      )}
      {secrets.data && secrets.data.secrets.length === 0 && <p>No secrets yet.</p>}
      {secrets.data && secrets.data.secrets.length > 0 && (
        <Table
          caption="Secrets you may see"
          columns={['Name', 'Updated', 'Used by', ...(anyChangeable ? ['Actions'] : [])]}
        >
          {secrets.data.secrets.map((s) => (
            <tr key={s.name}>
              <th scope="row">{s.name}</th>
              <td>{when(s.updated_at ?? s.created_at)}</td>
              <td>
                {users(s).length === 0 && 'no deployment'}
                <ul class="plain">
                  {users(s).map((d) => {
                    // Older than the value: the deployment still serves the previous one.
                    const stale = Date.parse(d.updated_at ?? '') < Date.parse(s.updated_at ?? '');
                    return (
                      <li key={d.name}>
                        <Link href={href('deployments', d.name)}>{d.name}</Link>
                        {stale && (
                          <>
                            {' '}
                            <strong>needs a redeploy</strong>
                            {d.caller_may_deploy !== false && (
                              <>
                                {' '}
                                <RowButton
                                  label="Redeploy"
                                  subject={d.name}
                                  disabled={action.busy}
                                  onClick={() => redeploy(d)}
                                />
                              </>
                            )}
                          </>
                        )}
                      </li>
                    );
                  })}
                </ul>
              </td>
              {anyChangeable && (
                <td class="actions">
                  {s.caller_may_change !== false && (
                    <>
                      <RowButton label="Change value" subject={s.name} onClick={() => setEditing(s.name)} />
                      <RowButton label="Delete" subject={s.name} danger onClick={() => setDeleting(s.name)} />
                    </>
                  )}
                </td>
              )}
            </tr>
          ))}
        </Table>
      )}
      <DeleteConfirm
        what="secret"
        name={deleting}
        onDelete={async (n) => {
          await client.request('delete', '/api/v1/secrets/{name}', { params: { name: n } });
          reload();
        }}
        onClose={() => setDeleting(undefined)}
      />
    </>
  );
}

/** Sets a secret's value (typed, or generated and shown once); the old value is never shown. */
function SecretValueForm(props: { name: string; onDone: (generated?: string) => void }): JSX.Element {
  const { client } = useSession();
  const [value, setValue] = useState('');
  const [generate, setGenerate] = useState(false);
  const action = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    action.run(async () => {
      const result = await client.request('put', '/api/v1/secrets/{name}', {
        params: { name: props.name },
        body: generate ? { generate: true } : { value },
      });
      props.onDone(result.value);
    });
  };
  return (
    <form class="panel" onSubmit={submit} aria-label={`New value for ${props.name}`}>
      <h2>New value for {props.name}</h2>
      <Check checked={generate} onChange={setGenerate}>
        Generate a value (shown once)
      </Check>
      {!generate && (
        <Field
          id="secret-new-value"
          label="New value"
          type="password"
          autoComplete="new-password"
          required
          value={value}
          onValue={setValue}
        />
      )}
      <Problem error={action.error} />
      <button type="submit" disabled={action.busy}>
        Save value
      </button>
      <button type="button" class="secondary" onClick={() => props.onDone()}>
        Cancel
      </button>
    </form>
  );
}
