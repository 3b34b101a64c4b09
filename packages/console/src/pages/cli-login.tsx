import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { Check, Field, PanelForm } from '../forms';
import { useSession } from '../session';
import { PageTitle, useAction } from '../ui';

/** What the CLI put in the URL it printed: its loopback port, its state and its PKCE challenge (none of them secret). */
function request(): { port: number; state: string; challenge: string; name: string } | undefined {
  const q = new URLSearchParams(location.search);
  const port = Number(q.get('port'));
  const state = q.get('state') ?? '';
  const challenge = q.get('code_challenge') ?? '';
  if (!Number.isInteger(port) || port < 1024 || port > 65535) return undefined;
  if (!/^[A-Za-z0-9_-]{16,128}$/.test(state) || !/^[A-Za-z0-9_-]{43}$/.test(challenge)) return undefined;
  return { port, state, challenge, name: q.get('name') || 'cli' };
}

/**
 * BentoCloud's "Create a new API token with a web browser" for `modelgate login --web`: the
 * signed-in user sees what the CLI asks for, may change the token's name and access, and approves
 * or denies. Either way the browser goes back to the CLI's loopback port (RFC 8252) with the state;
 * on approval with a one-time code that only the CLI, holding the PKCE verifier, can exchange. The
 * token itself never reaches this page.
 */
export function CliLoginPage(): JSX.Element {
  const { client, me } = useSession();
  const asked = request();
  const [name, setName] = useState(asked?.name ?? 'cli');
  const [ops, setOps] = useState(true);
  const [endpoints, setEndpoints] = useState(false);
  const [leaving, setLeaving] = useState<string | undefined>(undefined);
  const action = useAction();

  if (!asked) {
    return (
      <>
        <PageTitle>CLI login</PageTitle>
        <p class="problem" role="alert">
          This address is not a complete CLI login request. Run <code>modelgate login --web</code> again and open the
          address it prints.
        </p>
      </>
    );
  }
  const back = (params: Record<string, string>) => {
    const url = `http://127.0.0.1:${asked.port}/callback?${new URLSearchParams({ ...params, state: asked.state })}`;
    setLeaving(params.code ? 'Approved: handing the login back to the CLI…' : 'Denied: telling the CLI…');
    location.assign(url);
  };
  const approve = () =>
    action.run(async () => {
      const { code } = await client.request('post', '/api/v1/cli-login/approve', {
        body: {
          code_challenge: asked.challenge,
          token: { name, ops_access: ops, endpoint_access: endpoints ? { all: true } : null },
        },
      });
      back({ code });
    });

  return (
    <>
      <PageTitle>CLI login</PageTitle>
      {me.kind !== 'user' ? (
        <p class="problem" role="alert">
          API tokens belong to a person: sign out and sign in with your username and password to approve a CLI login.
        </p>
      ) : (
        <PanelForm
          label="Approve the CLI login"
          onSubmit={approve}
          submitLabel="Approve"
          busy={action.busy || leaving !== undefined}
          error={action.error}
          status={leaving && <p role="status">{leaving}</p>}
          actions={
            <button
              type="button"
              class="secondary"
              disabled={leaving !== undefined}
              onClick={() => back({ error: 'access_denied' })}
            >
              Deny
            </button>
          }
        >
          <p>
            The modelgate CLI on this computer (waiting on port {asked.port}) asks for an API token for{' '}
            <strong>{me.user}</strong>. Approve only if you just ran <code>modelgate login --web</code>.
          </p>
          <Field id="cli-token-name" label="Token name" required value={name} onValue={setName} />
          <fieldset>
            <legend>Access</legend>
            <Check checked={ops} onChange={setOps}>
              Developer Operations: the management API, as you (what the CLI needs)
            </Check>
            <Check checked={endpoints} onChange={setEndpoints}>
              Protected Endpoints: call every deployment you may read
            </Check>
          </fieldset>
        </PanelForm>
      )}
    </>
  );
}
