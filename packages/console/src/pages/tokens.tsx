import type { components } from '@modelgate/client';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { Check, Field, PanelForm } from '../forms';
import { useSession } from '../session';
import { CredentialTable } from '../tables';
import { PageTitle, Problem, ShownOnce, useAction, useLoad, when } from '../ui';

type Token = components['schemas']['ApiToken'];

/** What a token opens, in BentoCloud's words. */
function accessOf(t: Token): string {
  const parts: string[] = [];
  if (t.ops_access) parts.push('Developer Operations');
  const e = t.endpoint_access;
  if (e && 'all' in e) parts.push('Protected Endpoints: all');
  else if (e && 'deployments' in e) parts.push(`Protected Endpoints: ${e.deployments.join(', ')}`);
  return parts.join('; ') || 'nothing';
}

/**
 * BentoCloud's API Tokens page: the signed-in person's tokens. Create (name, description, expiry,
 * Developer Operations and Protected Endpoint access), shown once; list with last use; roll; delete.
 */
export function TokensPage(): JSX.Element {
  const { me } = useSession();
  if (me.kind !== 'user') {
    return (
      <>
        <PageTitle>API tokens</PageTitle>
        <p class="problem" role="alert">
          API tokens belong to a person: sign in with your username and password to see and make yours.
        </p>
      </>
    );
  }
  return <OwnTokens />;
}

/** The signed-in person's own tokens: the API lets their owner create, roll and delete them. */
function OwnTokens(): JSX.Element {
  const { client } = useSession();
  const tokens = useLoad(() => client.tokens.list({ limit: '1000' }), []);
  const deployments = useLoad(() => client.deployments.list({ limit: '1000' }), []);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [expires, setExpires] = useState('');
  const [ops, setOps] = useState(false);
  const [endpoints, setEndpoints] = useState<'none' | 'all' | 'listed'>('none');
  const [listed, setListed] = useState<string[]>([]);
  const [shown, setShown] = useState<{ label: string; token: string } | undefined>(undefined);
  const action = useAction();

  const create = () =>
    action.run(async () => {
      const made = await client.tokens.create({
        name,
        ...(description ? { description } : {}),
        ...(expires ? { expires_at: new Date(expires).toISOString() } : {}),
        ops_access: ops,
        endpoint_access: endpoints === 'all' ? { all: true } : endpoints === 'listed' ? { deployments: listed } : null,
      });
      setShown({ label: `API token ${made.name}`, token: made.token ?? '' });
      setName('');
      setDescription('');
      tokens.reload();
    });
  const roll = (t: Token, graceSeconds: number) =>
    action.run(async () => {
      const rolled = await client.tokens.roll(t.id, { grace_seconds: graceSeconds });
      setShown({ label: `Successor of ${t.name}`, token: rolled.token ?? '' });
      tokens.reload();
    });

  return (
    <>
      <PageTitle>API tokens</PageTitle>
      {shown && <ShownOnce label={shown.label} value={shown.token} onDone={() => setShown(undefined)} />}
      <PanelForm
        label="New API token"
        title="New API token"
        onSubmit={create}
        submitLabel="Create API token"
        busy={action.busy}
      >
        <Field id="token-name" label="Name" required value={name} onValue={setName} />
        <Field id="token-description" label="Description (optional)" value={description} onValue={setDescription} />
        <Field
          id="token-expires"
          label="Expires (empty: the node's default)"
          type="datetime-local"
          value={expires}
          onValue={setExpires}
        />
        <fieldset>
          <legend>Access</legend>
          <Check checked={ops} onChange={setOps}>
            Developer Operations: the management API, as you
          </Check>
          <p class="hint">Protected Endpoint access: call deployments you may read.</p>
          <Check radio="endpoints" checked={endpoints === 'none'} onChange={() => setEndpoints('none')}>
            No deployments
          </Check>
          <Check radio="endpoints" checked={endpoints === 'all'} onChange={() => setEndpoints('all')}>
            Every deployment
          </Check>
          <Check
            radio="endpoints"
            checked={endpoints === 'listed'}
            onChange={() => setEndpoints('listed')}
            more={(deployments.data?.deployments ?? []).map((d) => (
              <Check
                key={d.name}
                checked={listed.includes(d.name)}
                onChange={(on) => setListed(on ? [...listed, d.name] : listed.filter((n) => n !== d.name))}
              >
                {d.name}
              </Check>
            ))}
          >
            These deployments:
          </Check>
        </fieldset>
      </PanelForm>
      <Problem error={tokens.error ?? action.error} />
      <CredentialTable
        what="API token"
        id="token"
        items={tokens.data?.tokens}
        caption="Your API tokens"
        columns={['Name', 'Token', 'Access', 'State', 'Expires', 'Last used']}
        nameOf={(t) => t.name}
        lead={(t) => (
          <>
            <th scope="row">
              {t.name}
              {t.description && <div class="hint">{t.description}</div>}
            </th>
            <td class="mono">{t.prefix}…</td>
            <td>{accessOf(t)}</td>
          </>
        )}
        rest={(t) => (
          <>
            <td>{when(t.expires_at)}</td>
            <td>{when(t.last_used_at)}</td>
          </>
        )}
        roll={roll}
        remove={async (t) => {
          await client.tokens.delete(t.id);
          tokens.reload();
        }}
        busy={action.busy}
        initialGrace="0"
      />
    </>
  );
}
