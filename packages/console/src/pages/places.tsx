import type { ComponentChildren, JSX } from 'preact';
import { authSummary, rateLimitText } from '../deployment-settings';
import { GrantsTable, type PlaceKind } from '../grants';
import { href } from '../router';
import { useSession } from '../session';
import { ItemTable } from '../tables';
import { Link, PageTitle, Problem, Section, useLoad, when } from '../ui';

/** An infrastructure's page: what it is, the deployments on it, and its grants (Dataiku's Security tab). */
export function InfrastructurePage(props: { name: string }): JSX.Element {
  const { client } = useSession();
  const { name } = props;
  const infra = useLoad(() => client.request('get', '/api/v1/infrastructures/{name}', { params: { name } }), [name]);
  return (
    <Place kind="infrastructures" name={name} error={infra.error} description={infra.data?.description}>
      {infra.data && (
        <>
          <Deployments caption={`Deployments on ${name}`} where={(d) => d.infrastructure === name} />
          <Section id="grants" title="Grants">
            <GrantsTable kind="infrastructures" name={name} />
          </Section>
        </>
      )}
    </Place>
  );
}

/** A service's page: what it is, its versions with their auth settings, its deployments, and its grants. */
export function ServicePage(props: { name: string }): JSX.Element {
  const { client } = useSession();
  const { name } = props;
  const service = useLoad(() => client.request('get', '/api/v1/services/{name}', { params: { name } }), [name]);
  const versions = useLoad(
    () => client.request('get', '/api/v1/services/{name}/versions', { params: { name }, query: { limit: '1000' } }),
    [name],
  );
  return (
    <Place kind="services" name={name} error={service.error} description={service.data?.description}>
      {service.data && (
        <>
          <Section id="versions" title="Versions">
            <p class="hint">
              A version's auth settings are fixed when it is made; a deployment of it uses them unless it sets its own.
            </p>
            <Problem error={versions.error} />
            <ItemTable
              items={versions.data?.versions}
              empty="No versions yet."
              caption={`Versions of ${name}`}
              columns={['Version', 'Auth settings', 'Created']}
              keyOf={(v) => v.version}
              cells={(v) => (
                <>
                  <th scope="row">{v.version}</th>
                  <td>{authSummary(v.auth)}</td>
                  <td>{when(v.created_at)}</td>
                </>
              )}
            />
          </Section>
          <Deployments caption={`Deployments of ${name}`} where={(d) => d.service === name} />
          <Section id="grants" title="Grants">
            <GrantsTable kind="services" name={name} />
          </Section>
        </>
      )}
    </Place>
  );
}

/** The frame of a place's page: where it sits, its title, the API's refusal, its description. */
function Place(props: {
  kind: PlaceKind;
  name: string;
  error: string | undefined;
  description: string | undefined;
  children: ComponentChildren;
}): JSX.Element {
  const what = props.kind === 'services' ? 'Service' : 'Infrastructure';
  return (
    <>
      <p>
        <Link href={href('deployments')}>Deployments</Link> /
      </p>
      <PageTitle>{`${what} ${props.name}`}</PageTitle>
      <Problem error={props.error} />
      {props.description && <p>{props.description}</p>}
      {props.children}
    </>
  );
}

/** The deployments the caller may see that `where` picks, each a link to its page. */
function Deployments(props: {
  caption: string;
  where: (d: { service: string; infrastructure: string }) => boolean;
}): JSX.Element {
  const { client } = useSession();
  const list = useLoad(() => client.request('get', '/api/v1/deployments', { query: { limit: '1000' } }), []);
  return (
    <Section id="deployments" title="Deployments">
      <Problem error={list.error} />
      <ItemTable
        items={list.data?.deployments.filter(props.where)}
        empty="No deployments you may see."
        caption={props.caption}
        columns={['Name', 'Version', 'Infrastructure', 'State', 'Rate limit']}
        keyOf={(d) => d.name}
        cells={(d) => (
          <>
            <th scope="row">
              <Link href={href('deployments', d.name)}>{d.name}</Link>
            </th>
            <td>{d.version}</td>
            <td>{d.infrastructure}</td>
            <td>{d.enabled ? 'enabled' : 'disabled'}</td>
            <td>{rateLimitText(d.rate_limit)}</td>
          </>
        )}
      />
    </Section>
  );
}
