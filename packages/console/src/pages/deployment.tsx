import type { components } from '@modelgate/client';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { basicUsername, holds, inferenceUrl } from '../api';
import { DeploymentForm, type DeploymentFormValue, writeSecretFirst } from '../deployment-form';
import { authMethods, changesOf, rateLimitText } from '../deployment-settings';
import { Field, InlineForm } from '../forms';
import { href, navigate } from '../router';
import { useSession } from '../session';
import { CredentialTable, useDeleteConfirm } from '../tables';
import { CopyButton, Link, PageTitle, PlaceLink, Problem, Section, ShownOnce, useAction, useLoad, when } from '../ui';
import { DeploymentChart } from './chart';

type Deployment = components['schemas']['Deployment'];
type ApiKey = components['schemas']['ApiKey'];

/** Where a deployment answers on the gateway (a placeholder when the node runs no data plane here). */
function gatewayUrl(name: string): string {
  return `${inferenceUrl() || 'http://INFERENCE-ADDRESS'}/${encodeURIComponent(name)}/`;
}

/** A copyable command line. */
function CommandLine(props: { label: string; command: string }): JSX.Element {
  return (
    <div class="command">
      <p>{props.label}</p>
      <div class="row">
        <pre class="grow">{props.command}</pre>
        <CopyButton text={props.command} label={`Copy`} />
      </div>
    </div>
  );
}

/**
 * One deployment: what it is, how to call it (a curl line per way it accepts callers), its API
 * keys, its platform JWTs, its traffic over the last hour, and the changes a deployer makes.
 */
export function DeploymentPage(props: { name: string }): JSX.Element {
  const { client } = useSession();
  const dep = useLoad(() => client.deployments.get(props.name), [props.name]);
  const [editing, setEditing] = useState(false);
  const action = useAction();
  const deleting = useDeleteConfirm(
    'deployment',
    (name: string) => name,
    (name) => client.deployments.delete(name),
    () => navigate(href('deployments')),
  );
  const d = dep.data;
  // The API's own answer (absent from an older node: then everything is offered, and it decides).
  const mayDeploy = d?.caller_may_deploy !== false;

  const run = (what: () => Promise<unknown>) =>
    action.run(async () => {
      await what();
      dep.reload();
    });
  const update = async (v: DeploymentFormValue) => {
    if (!d) return;
    await writeSecretFirst(client, v);
    // Only what changed: an auth setting the form left alone stays as it is (the API keeps it).
    const changes = changesOf(d, v);
    if (Object.keys(changes).length > 0) await client.deployments.update(props.name, changes);
    // A new value for the Basic secret alone is picked up by a redeploy.
    else if (v.newSecretValue !== undefined) await client.deployments.redeploy(props.name);
    setEditing(false);
    dep.reload();
  };

  return (
    <>
      <p>
        <Link href={href('deployments')}>Deployments</Link> /
      </p>
      <PageTitle>{`Deployment ${props.name}`}</PageTitle>
      <Problem error={dep.error} />
      {d && (
        <>
          <dl class="facts">
            <dt>State</dt>
            <dd>{d.enabled ? 'enabled' : 'disabled'}</dd>
            <dt>Access</dt>
            <dd>{d.access}</dd>
            <dt>Admits</dt>
            <dd data-testid="admits">{authMethods(d).join(', ')}</dd>
            <dt>Rate limit</dt>
            <dd data-testid="rate-limit">{rateLimitText(d.rate_limit)}</dd>
            <dt>Upstream</dt>
            <dd class="mono">{d.upstream}</dd>
            <dt>Service, version</dt>
            <dd>
              <PlaceLink kind="services" name={d.service} /> {d.version} (
              {d.auth_source === 'override' ? 'auth set on the deployment' : "the version's auth"})
            </dd>
            <dt>Infrastructure</dt>
            <dd>
              <PlaceLink kind="infrastructures" name={d.infrastructure} />
            </dd>
            <dt>Revision</dt>
            <dd>
              {d.revision} (updated {when(d.updated_at)})
            </dd>
          </dl>
          {mayDeploy && (
            <div class="row">
              <button type="button" class="secondary" onClick={() => setEditing(!editing)} aria-expanded={editing}>
                Edit
              </button>
              <button
                type="button"
                class="secondary"
                disabled={action.busy}
                onClick={() => run(() => client.deployments.redeploy(d.name))}
              >
                Redeploy
              </button>
              <button
                type="button"
                class="secondary"
                disabled={action.busy}
                onClick={() =>
                  run(() => (d.enabled ? client.deployments.disable(d.name) : client.deployments.enable(d.name)))
                }
              >
                {d.enabled ? 'Disable' : 'Enable'}
              </button>
              <button type="button" class="danger" onClick={() => deleting.ask(props.name)}>
                Delete
              </button>
            </div>
          )}
          <Problem error={action.error} />
          {editing && (
            <DeploymentForm
              mode="update"
              initial={d}
              submitLabel="Save (new revision)"
              onSubmit={update}
              onCancel={() => setEditing(false)}
            />
          )}
          <HowToCall deployment={d} />
          <DeploymentChart name={d.name} />
          {d.access === 'protected' && d.auth.api_keys && <ApiKeys deployment={d} mayDeploy={mayDeploy} />}
          {d.access === 'protected' && <PlatformJwts deployment={d} mayDeploy={mayDeploy} />}
        </>
      )}
      {deleting.dialog}
    </>
  );
}

/** A curl line per kind of credential the deployment admits (credentials as variables: none is known here). */
function HowToCall(props: { deployment: Deployment }): JSX.Element {
  const d = props.deployment;
  const url = gatewayUrl(d.name);
  // Exactly what the API says it admits (a node older than `admits`: what its settings turn on).
  const admits = new Set<string>(
    d.admits ?? ['inference_key', 'api_token', 'platform_jwt', 'basic', 'api_key', 'oidc'],
  );
  const bearer = (variable: string) => `curl -H "Authorization: Bearer $${variable}" ${url}`;
  const lines: [string, string][] = [];
  if (d.access === 'public') lines.push(['Anyone:', `curl ${url}`]);
  else {
    if (d.auth.basic_secret && admits.has('basic')) {
      lines.push([
        `HTTP Basic (the value of secret ${d.auth.basic_secret} at the last deploy):`,
        `curl -u ${basicUsername()}:"$PASSWORD" ${url}`,
      ]);
    }
    if (d.auth.api_keys && admits.has('api_key')) lines.push(['An API key:', bearer('API_KEY')]);
    if (admits.has('platform_jwt')) lines.push(['A platform JWT:', bearer('JWT')]);
    if (admits.has('api_token')) lines.push(["A person's API token (endpoint access):", bearer('API_TOKEN')]);
    if (d.auth.oidc?.issuer && admits.has('oidc')) {
      lines.push([`An access token from ${d.auth.oidc.issuer}:`, bearer('ACCESS_TOKEN')]);
    }
    if (admits.has('inference_key')) {
      lines.push(["The node's inference key (key_file.json):", bearer('MODELGATE_INFERENCE_KEY')]);
    }
  }
  return (
    <Section id="how" title="How to call it">
      {lines.map(([label, command]) => (
        <CommandLine key={label} label={label} command={command} />
      ))}
    </Section>
  );
}

/** The deployment's API keys (Dataiku): create (shown once), roll with a grace period, delete. */
function ApiKeys(props: { deployment: Deployment; mayDeploy: boolean }): JSX.Element {
  const { client } = useSession();
  const name = props.deployment.name;
  const keys = useLoad(
    () => client.request('get', '/api/v1/api-keys', { query: { deployment: name, limit: '1000' } }),
    [name],
  );
  const [description, setDescription] = useState('');
  const [shown, setShown] = useState<{ label: string; key: string } | undefined>(undefined);
  const action = useAction();

  const create = () =>
    action.run(async () => {
      const made = await client.request('post', '/api/v1/api-keys', {
        body: { deployment: name, ...(description ? { description } : {}) },
      });
      const key = made.api_keys[0];
      setDescription('');
      if (key?.key) setShown({ label: `New API key ${key.prefix}…`, key: key.key });
      keys.reload();
    });
  const roll = (k: ApiKey, graceSeconds: number) =>
    action.run(async () => {
      const rolled = await client.request('post', '/api/v1/api-keys/{id}/roll', {
        params: { id: k.id },
        body: { grace_seconds: graceSeconds },
      });
      if (rolled.key) setShown({ label: `Successor of ${k.prefix}… (${rolled.prefix}…)`, key: rolled.key });
      keys.reload();
    });

  return (
    <Section id="keys" title="API keys">
      <Problem error={keys.error ?? action.error} />
      {shown && (
        <ShownOnce
          label={shown.label}
          value={shown.key}
          onDone={() => setShown(undefined)}
          extra={
            <CommandLine
              label="Call it with this key:"
              command={`curl -H "Authorization: Bearer ${shown.key}" ${gatewayUrl(name)}`}
            />
          }
        />
      )}
      {props.mayDeploy && (
        <InlineForm label="New API key" onSubmit={create} submitLabel="Create API key" busy={action.busy}>
          <Field id="key-description" label="Description (optional)" value={description} onValue={setDescription} />
        </InlineForm>
      )}
      <CredentialTable
        what="API key"
        id="key"
        items={keys.data?.api_keys}
        caption={`API keys of ${name}`}
        columns={['Key', 'Description', 'State', 'Created', 'Last used', 'Requests']}
        nameOf={(k) => k.prefix}
        lead={(k) => (
          <>
            <th scope="row" class="mono">
              {k.prefix}…
            </th>
            <td>{k.description ?? ''}</td>
          </>
        )}
        rest={(k) => (
          <>
            <td>{when(k.created_at)}</td>
            <td>{when(k.last_used_at)}</td>
            <td>{k.requests ?? 0}</td>
          </>
        )}
        roll={roll}
        remove={async (k) => {
          await client.request('delete', '/api/v1/api-keys/{id}', { params: { id: k.id } });
          keys.reload();
        }}
        busy={action.busy}
        initialGrace="3600"
        mayChange={props.mayDeploy}
      />
    </Section>
  );
}

/** Platform JWTs for this deployment (Scaleway): issue one (shown once), revoke one or all issued so far. */
function PlatformJwts(props: { deployment: Deployment; mayDeploy: boolean }): JSX.Element {
  const { client, me } = useSession();
  const name = props.deployment.name;
  const admitted = props.deployment.admits?.includes('platform_jwt') ?? true;
  const [expires, setExpires] = useState('');
  const [jti, setJti] = useState('');
  const [issued, setIssued] = useState<{ token: string; jti: string; expires_at: string } | undefined>(undefined);
  const [done, setDone] = useState<string | undefined>(undefined);
  const action = useAction();

  const issue = () =>
    action.run(async () => {
      const at = expires ? new Date(expires).toISOString() : undefined;
      setIssued(
        await client.request('post', '/api/v1/issue-jwt', {
          body: { deployment: name, ...(at ? { expires_at: at } : {}) },
        }),
      );
      setDone(undefined);
    });
  const revoke = (body: { deployment: string } | { jti: string }, what: string) =>
    action.run(async () => {
      await client.request('post', '/api/v1/jwt-revocations', { body });
      setDone(what);
      setJti('');
    });

  return (
    <Section id="jwt" title="Platform JWTs">
      <Problem error={action.error} />
      {done && (
        <p role="status" class="notice">
          {done}
        </p>
      )}
      {issued && (
        <ShownOnce
          label={`Platform JWT ${issued.jti}`}
          value={issued.token}
          onDone={() => setIssued(undefined)}
          extra={
            <>
              <p>Valid until {when(issued.expires_at)}; it is not stored.</p>
              <CommandLine
                label="Call it with this token:"
                command={`curl -H "Authorization: Bearer ${issued.token}" ${gatewayUrl(name)}`}
              />
            </>
          }
        />
      )}
      {admitted ? (
        <InlineForm label="Issue a platform JWT" onSubmit={issue} submitLabel="Issue JWT" busy={action.busy}>
          <Field
            id="jwt-expires"
            label="Expires (empty: the node's default)"
            type="datetime-local"
            value={expires}
            onValue={setExpires}
          />
        </InlineForm>
      ) : (
        // Nothing to issue that would open it; JWTs issued earlier can still be revoked.
        <p data-testid="jwt-not-admitted">
          This deployment does not admit platform JWTs (its credentials list leaves them out).
        </p>
      )}
      {holds(me, 'admin') && (
        <InlineForm
          label="Revoke one platform JWT"
          onSubmit={() => revoke({ jti: jti.trim() }, `JWT ${jti.trim()} revoked.`)}
          submitLabel="Revoke this JWT"
          busy={action.busy}
          danger
        >
          <Field id="jwt-jti" label="JWT id (jti) to revoke" required value={jti} onValue={setJti} />
        </InlineForm>
      )}
      {props.mayDeploy && (
        <button
          type="button"
          class="danger"
          disabled={action.busy}
          onClick={() => revoke({ deployment: name }, `Every JWT issued for ${name} until now is revoked.`)}
        >
          Revoke every JWT issued for {name} so far
        </button>
      )}
    </Section>
  );
}
