import type { components } from '@modelgate/client';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { DeploymentForm, type DeploymentFormValue, writeSecretFirst } from '../deployment-form';
import { authMethods, rateLimitText } from '../deployment-settings';
import { href } from '../router';
import { useSession } from '../session';
import { ItemTable, useDeleteConfirm } from '../tables';
import { Link, PageTitle, PlaceLink, Problem, RowButton, ShownOnce, useAction, useLoad } from '../ui';
import { totalsOf, useTraffic } from './chart';

type Deployment = components['schemas']['Deployment'];
type Created = components['schemas']['CreateDeploymentResponse'];

/** Gradient's deployments list: every deployment the caller may see, and a create form. */
export function DeploymentsPage(): JSX.Element {
  const { client } = useSession();
  const list = useLoad(() => client.request('get', '/api/v1/deployments', { query: { limit: '1000' } }), []);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<Created | undefined>(undefined);
  const action = useAction();
  const deleting = useDeleteConfirm(
    'deployment',
    (d: Deployment) => d.name,
    (d) => client.deployments.delete(d.name),
    list.reload,
  );

  const create = async (v: DeploymentFormValue) => {
    await writeSecretFirst(client, v);
    const made = await client.deployments.create({
      name: v.name,
      upstream: v.upstream,
      access: v.access,
      auth: v.auth,
      ...(v.service ? { service: v.service } : {}),
      ...(v.infrastructure ? { infrastructure: v.infrastructure } : {}),
      ...(v.version ? { version: v.version } : {}),
      ...(v.apiKeyCount > 0 ? { api_keys: v.apiKeyCount } : {}),
      ...(v.rateLimit ? { rate_limit: v.rateLimit } : {}),
    });
    setCreating(false);
    setCreated(made);
    list.reload();
  };
  const toggle = (d: Deployment) =>
    action.run(async () => {
      await (d.enabled ? client.deployments.disable(d.name) : client.deployments.enable(d.name));
      list.reload();
    });

  // The API's own answers (absent from an older node: then everything is offered, and it decides).
  const mayCreate = list.data !== undefined && list.data.caller_may_create !== false;
  return (
    <>
      <PageTitle>Deployments</PageTitle>
      {mayCreate && !creating && (
        <button type="button" onClick={() => setCreating(true)}>
          New deployment
        </button>
      )}
      {creating && (
        <DeploymentForm
          mode="create"
          submitLabel="Create deployment"
          onSubmit={create}
          onCancel={() => setCreating(false)}
        />
      )}
      {created && <CreatedNotice created={created} onDone={() => setCreated(undefined)} />}
      <Problem error={list.error ?? action.error} />
      <ItemTable
        items={list.data?.deployments}
        empty="No deployments yet."
        caption="Deployments you may see"
        columns={[
          'Name',
          'Service (version)',
          'Infrastructure',
          'Access',
          'Admits',
          'Rate limit',
          'State',
          'Upstream',
          'Revision',
          'Requests (1 h)',
          'Refused (1 h)',
        ]}
        keyOf={(d) => d.name}
        cells={(d) => (
          <>
            <th scope="row">
              <Link href={href('deployments', d.name)}>{d.name}</Link>
            </th>
            <td>
              <PlaceLink kind="services" name={d.service} /> ({d.version})
            </td>
            <td>
              <PlaceLink kind="infrastructures" name={d.infrastructure} />
            </td>
            <td>{d.access}</td>
            <td>{authMethods(d, true).join(', ')}</td>
            <td>{rateLimitText(d.rate_limit)}</td>
            <td>{d.enabled ? 'enabled' : 'disabled'}</td>
            <td class="mono">{d.upstream}</td>
            <td>{d.revision}</td>
            <TrafficCells name={d.name} />
          </>
        )}
        mayChange={(d) => d.caller_may_deploy !== false}
        actions={(d) => (
          <>
            <RowButton
              label={d.enabled ? 'Disable' : 'Enable'}
              subject={d.name}
              disabled={action.busy}
              onClick={() => toggle(d)}
            />
            <RowButton label="Delete" subject={d.name} danger onClick={() => deleting.ask(d)} />
          </>
        )}
      />
      {deleting.dialog}
    </>
  );
}

/** What a create answered once: generated Basic password and API keys, each shown this one time. */
function CreatedNotice(props: { created: Created; onDone: () => void }): JSX.Element {
  const { deployment, generated_secret, api_keys } = props.created;
  const keys = (api_keys ?? []).filter((k) => k.key);
  if (!generated_secret?.value && keys.length === 0) {
    return (
      <p role="status" class="notice">
        Deployment <Link href={href('deployments', deployment.name)}>{deployment.name}</Link> created (revision{' '}
        {deployment.revision}).{' '}
        <button type="button" class="link" onClick={props.onDone}>
          Dismiss
        </button>
      </p>
    );
  }
  return (
    <div role="status" class="notice">
      <p>
        Deployment <Link href={href('deployments', deployment.name)}>{deployment.name}</Link> created.
      </p>
      {generated_secret?.value && (
        <ShownOnce
          label={`Basic password (secret ${generated_secret.name})`}
          value={generated_secret.value}
          onDone={props.onDone}
        />
      )}
      {keys.map((k, i) => (
        <ShownOnce key={k.id} label={`API key ${i + 1} (${k.prefix}…)`} value={k.key!} onDone={props.onDone} />
      ))}
    </div>
  );
}

/** A row's last-hour requests and refusals (one traffic call per deployment shown). */
function TrafficCells(props: { name: string }): JSX.Element {
  const traffic = useTraffic(props.name);
  const totals = traffic.data ? totalsOf(traffic.data.minutes) : undefined;
  return (
    <>
      <td>{totals?.requests ?? '–'}</td>
      <td>{totals?.refused ?? '–'}</td>
    </>
  );
}
