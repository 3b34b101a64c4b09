import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { makeClient } from '../api';
import { Field } from '../forms';
import type { Session } from '../session';
import { PageTitle, Problem, useAction } from '../ui';

/**
 * Sign in with a username and password (the node sets an HttpOnly session cookie; the answer's
 * copy of the credential is dropped at once), or by pasting a key or API token, which is kept in
 * memory only: reloading the page forgets it.
 */
export function SignIn(props: { onSignedIn: (s: Session) => void }): JSX.Element {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [token, setToken] = useState('');
  const withPassword = useAction();
  const withToken = useAction();

  const signInWithPassword = (e: Event) => {
    e.preventDefault();
    withPassword.run(async () => {
      const client = makeClient();
      await client.request('post', '/api/v1/sessions', { body: { username, password } });
      setPassword('');
      props.onSignedIn({ client, me: await client.whoami(), via: 'cookie' });
    });
  };
  const signInWithToken = (e: Event) => {
    e.preventDefault();
    withToken.run(async () => {
      const client = makeClient(token.trim());
      const me = await client.whoami();
      setToken('');
      props.onSignedIn({ client, me, via: 'token' });
    });
  };

  return (
    <main id="main" class="sign-in">
      <PageTitle>Sign in to modelgate</PageTitle>
      <form onSubmit={signInWithPassword} aria-labelledby="with-password">
        <h2 id="with-password">With your username and password</h2>
        <Field id="username" label="Username" autoComplete="username" required value={username} onValue={setUsername} />
        <Field
          id="password"
          label="Password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onValue={setPassword}
        />
        <Problem error={withPassword.error} />
        <button type="submit" disabled={withPassword.busy}>
          Sign in
        </button>
      </form>
      <form onSubmit={signInWithToken} aria-labelledby="with-token">
        <h2 id="with-token">With a key or API token</h2>
        <p class="hint">
          An API token with Developer Operations access (<code>mgt_…</code>), an admin key or the node's management key
          from <code>key_file.json</code>. It is kept in this tab's memory only.
        </p>
        <Field id="token" label="Key or token" type="password" required value={token} onValue={setToken} />
        <Problem error={withToken.error} />
        <button type="submit" disabled={withToken.busy}>
          Use this token
        </button>
      </form>
    </main>
  );
}
