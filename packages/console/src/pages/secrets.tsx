import type { components } from '@modelgate/client';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { Check, Field, PanelForm } from '../forms';
import { href } from '../router';
import { useSession } from '../session';
import { ItemTable, useDeleteConfirm } from '../tables';
import { Link, PageTitle, Problem, RowButton, ShownOnce, useAction, useLoad, when } from '../ui';

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
  const [value, setValue] = useState<SecretValue>({ generate: false, value: '' });
  const [editing, setEditing] = useState<string | undefined>(undefined);
  const [shown, setShown] = useState<{ name: string; value: string } | undefined>(undefined);
  const action = useAction();

  const reload = () => {
    secrets.reload();
    deployments.reload();
  };
  const deleting = useDeleteConfirm(
    'secret',
    (s: Secret) => s.name,
    (s) => client.request('delete', '/api/v1/secrets/{name}', { params: { name: s.name } }),
    reload,
  );
  const create = () =>
    action.run(async () => {
      const made = await client.request('post', '/api/v1/secrets', { body: { name, ...bodyOf(value) } });
      if (made.value) setShown({ name, value: made.value });
      setName('');
      setValue({ generate: false, value: '' });
      reload();
    });
  const redeploy = (d: Deployment) =>
    action.run(async () => {
      await client.deployments.redeploy(d.name);
      reload();
    });

  const users = (s: Secret) => (deployments.data?.deployments ?? []).filter((d) => d.auth.basic_secret === s.name);
  return (
    <>
      <PageTitle>Secrets</PageTitle>
      <p class="hint">
        A deployment's HTTP Basic password is the value of its secret as it was at its last (re)deploy. After a change,
        redeploy each deployment that reads the secret.
      </p>
      <PanelForm label="New secret" title="New secret" onSubmit={create} submitLabel="Create secret" busy={action.busy}>
        <Field id="secret-name" label="Name" required value={name} onValue={setName} />
        <SecretValueFields id="secret-value" label="Value" value={value} onValue={setValue} />
      </PanelForm>
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
      <ItemTable
        items={secrets.data?.secrets}
        empty="No secrets yet."
        caption="Secrets you may see"
        columns={['Name', 'Updated', 'Used by']}
        keyOf={(s) => s.name}
        cells={(s) => (
          <>
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
          </>
        )}
        mayChange={(s) => s.caller_may_change !== false}
        actions={(s) => (
          <>
            <RowButton label="Change value" subject={s.name} onClick={() => setEditing(s.name)} />
            <RowButton label="Delete" subject={s.name} danger onClick={() => deleting.ask(s)} />
          </>
        )}
      />
      {deleting.dialog}
    </>
  );
}

/** A secret's value as a form collects it: typed, or generated by the node (and shown once). */
interface SecretValue {
  readonly generate: boolean;
  readonly value: string;
}

/** The request body for a {@link SecretValue}. */
function bodyOf(v: SecretValue): { generate: true } | { value: string } {
  return v.generate ? { generate: true } : { value: v.value };
}

/** "Generate a value" or the value typed (a password field: it is never shown again). */
function SecretValueFields(props: {
  id: string;
  label: string;
  value: SecretValue;
  onValue: (v: SecretValue) => void;
}): JSX.Element {
  const { value: v, onValue } = props;
  return (
    <>
      <Check checked={v.generate} onChange={(generate) => onValue({ ...v, generate })}>
        Generate a value (shown once)
      </Check>
      {!v.generate && (
        <Field
          id={props.id}
          label={props.label}
          type="password"
          autoComplete="new-password"
          required
          value={v.value}
          onValue={(value) => onValue({ ...v, value })}
        />
      )}
    </>
  );
}

/** Sets a secret's value (typed, or generated and shown once); the old value is never shown. */
function SecretValueForm(props: { name: string; onDone: (generated?: string) => void }): JSX.Element {
  const { client } = useSession();
  const [value, setValue] = useState<SecretValue>({ generate: false, value: '' });
  const action = useAction();
  const submit = () =>
    action.run(async () => {
      const result = await client.request('put', '/api/v1/secrets/{name}', {
        params: { name: props.name },
        body: bodyOf(value),
      });
      props.onDone(result.value);
    });
  return (
    <PanelForm
      label={`New value for ${props.name}`}
      title={`New value for ${props.name}`}
      onSubmit={submit}
      submitLabel="Save value"
      busy={action.busy}
      error={action.error}
      onCancel={() => props.onDone()}
    >
      <SecretValueFields id="secret-new-value" label="New value" value={value} onValue={setValue} />
    </PanelForm>
  );
}
