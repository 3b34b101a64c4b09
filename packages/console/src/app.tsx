import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { callerName, holds, isSignedOut, makeClient, messageOf } from './api';
import { AuditPage } from './pages/audit';
import { CliLoginPage } from './pages/cli-login';
import { DeploymentPage } from './pages/deployment';
import { DeploymentsPage } from './pages/deployments';
import { PeoplePage } from './pages/people';
import { InfrastructurePage, ServicePage } from './pages/places';
import { SecretsPage } from './pages/secrets';
import { SignIn } from './pages/sign-in';
import { TokensPage } from './pages/tokens';
import { href, navigate, useRoute } from './router';
import { type Session, SessionContext } from './session';
import { Link, Problem } from './ui';

/** The console: asks the API who the caller is, then shows the sign-in page or the pages. */
export function App(): JSX.Element {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);

  useEffect(() => {
    // A session cookie from an earlier sign-in, or a node with token authorization off.
    const client = makeClient();
    client.whoami().then(
      (me) => setSession({ client, me, via: me.kind === 'anonymous' ? 'open' : 'cookie' }),
      (err) => (isSignedOut(err) ? setSession(null) : setError(messageOf(err))),
    );
  }, []);

  if (error) return <Problem error={error} />;
  if (session === undefined) return <p aria-busy="true">Loading…</p>;
  if (session === null) return <SignIn onSignedIn={setSession} />;
  return (
    <SessionContext.Provider value={session}>
      <Shell session={session} onSignedOut={() => setSession(null)} />
    </SessionContext.Provider>
  );
}

function Shell(props: { session: Session; onSignedOut: () => void }): JSX.Element {
  const { me, client, via } = props.session;
  const route = useRoute();
  const [error, setError] = useState<string | undefined>(undefined);
  const admin = holds(me, 'admin');
  const section = route[0] ?? 'deployments';

  const signOut = async () => {
    try {
      // A cookie session ends on the node; a pasted token is only forgotten (it lives in memory).
      if (via === 'cookie' && me.kind === 'user') await client.request('delete', '/api/v1/sessions/current');
      props.onSignedOut();
      navigate(href());
    } catch (err) {
      setError(messageOf(err));
    }
  };

  const nav: [string, string, boolean][] = [
    ['deployments', 'Deployments', true],
    ['secrets', 'Secrets', true],
    ['tokens', 'API tokens', me.kind === 'user'],
    // Everyone sees who holds what on the places they may see (the API shows grants to readers);
    // users and groups are the admin's part of the page.
    ['people', 'People and access', true],
    ['audit', 'Audit log', admin],
  ];
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">modelgate</span>
        <nav aria-label="Console">
          <ul>
            {nav
              .filter(([, , shown]) => shown)
              .map(([id, label]) => (
                <li key={id}>
                  <Link href={href(id)} class={section === id ? 'current' : undefined}>
                    {section === id ? <span aria-current="page">{label}</span> : label}
                  </Link>
                </li>
              ))}
          </ul>
        </nav>
        <div class="whoami">
          <span data-testid="whoami">
            {callerName(me)}
            {(me.privileges ?? []).length > 0 ? ` (${(me.privileges ?? []).join(', ')})` : ''}
          </span>
          {via !== 'open' && (
            <button type="button" class="secondary" onClick={signOut}>
              Sign out
            </button>
          )}
        </div>
      </header>
      <main id="main">
        <Problem error={error} />
        <Page route={route} admin={admin} />
      </main>
    </>
  );
}

function Page(props: { route: string[]; admin: boolean }): JSX.Element {
  const [section = 'deployments', name] = props.route;
  if (section === 'deployments' && name) return <DeploymentPage name={name} />;
  if (section === 'deployments') return <DeploymentsPage />;
  if (section === 'services' && name) return <ServicePage name={name} />;
  if (section === 'infrastructures' && name) return <InfrastructurePage name={name} />;
  if (section === 'secrets') return <SecretsPage />;
  if (section === 'tokens') return <TokensPage />;
  if (section === 'people') return <PeoplePage />;
  if (section === 'audit') return <AuditPage />;
  if (section === 'cli-login') return <CliLoginPage />;
  return (
    <>
      <h1>Not found</h1>
      <p>
        No console page at this address. <Link href={href()}>Deployments</Link>
      </p>
    </>
  );
}
