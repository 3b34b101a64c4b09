import { type components, ModelgateApiError } from '@modelgate/client';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { basicUsername } from './api';
import { CREDENTIAL_KINDS, type CredentialKind, type RateLimit } from './deployment-settings';
import { Check, Field, PanelForm, Select } from './forms';
import { useSession } from './session';
import { useAction, useLoad } from './ui';

type Deployment = components['schemas']['Deployment'];
type AuthInput = components['schemas']['AuthSettingsInput'];

/** What the form yields: the fields of a create or an update, and a new Basic secret to make first. */
export interface DeploymentFormValue {
  readonly name: string;
  readonly upstream: string;
  readonly service?: string;
  readonly infrastructure?: string;
  readonly version?: string;
  readonly access: 'public' | 'protected';
  readonly auth: AuthInput;
  /** Its rate limit; null for none. */
  readonly rateLimit: RateLimit | null;
  readonly apiKeyCount: number;
  /** A value for the Basic secret when the user typed one (the secret is created, or its value set, first). */
  readonly newSecretValue?: string;
}

/**
 * The create and edit form of a deployment, with Gradient's "Advanced options": access, then
 * each way callers can prove who they are. It only collects; the page sends it through the API.
 */
export function DeploymentForm(props: {
  mode: 'create' | 'update';
  initial?: Deployment;
  submitLabel: string;
  onSubmit: (value: DeploymentFormValue) => Promise<unknown>;
  onCancel?: () => void;
}): JSX.Element {
  const { client } = useSession();
  const d = props.initial;
  const [name, setName] = useState(d?.name ?? '');
  const [upstream, setUpstream] = useState(d?.upstream ?? '');
  const [service, setService] = useState('');
  const [infrastructure, setInfrastructure] = useState('');
  const [version, setVersion] = useState('');
  const [access, setAccess] = useState<'public' | 'protected'>(d?.access ?? 'protected');
  const [basic, setBasic] = useState(Boolean(d?.auth.basic_secret));
  const [secret, setSecret] = useState(d?.auth.basic_secret ?? '');
  const [secretValue, setSecretValue] = useState('');
  const [apiKeys, setApiKeys] = useState(d?.auth.api_keys ?? false);
  const [keyCount, setKeyCount] = useState(0);
  const [oidc, setOidc] = useState(Boolean(d?.auth.oidc?.issuer));
  const [issuer, setIssuer] = useState(d?.auth.oidc?.issuer ?? '');
  const [audiences, setAudiences] = useState((d?.auth.oidc?.audiences ?? []).join(', '));
  const [jwksUrl, setJwksUrl] = useState(d?.auth.oidc?.jwks_url ?? '');
  const [forward, setForward] = useState(d?.auth.forward_credential ?? false);
  const [onlyKinds, setOnlyKinds] = useState<CredentialKind[] | null>(
    (d?.auth.credentials as CredentialKind[] | null | undefined) ?? null,
  );
  const [limited, setLimited] = useState(Boolean(d?.rate_limit));
  const [limitRequests, setLimitRequests] = useState(String(d?.rate_limit?.requests ?? 100));
  const [limitPer, setLimitPer] = useState<RateLimit['per']>(d?.rate_limit?.per ?? 'minute');
  const [limitBy, setLimitBy] = useState<NonNullable<RateLimit['by']>>(d?.rate_limit?.by ?? 'credential');
  const action = useAction();
  // Existing secrets, to pick the Basic password from (names only: values are never shown).
  const secrets = useLoad(() => client.request('get', '/api/v1/secrets', { query: { limit: '1000' } }), []);

  const submit = () => {
    const auth: AuthInput = {
      basic_secret: basic && secret.trim() ? secret.trim() : null,
      api_keys: apiKeys,
      forward_credential: forward,
      credentials: onlyKinds,
      oidc: oidc
        ? {
            issuer: issuer.trim(),
            audiences: audiences
              .split(',')
              .map((a) => a.trim())
              .filter(Boolean),
            ...(jwksUrl.trim() ? { jwks_url: jwksUrl.trim() } : {}),
          }
        : null,
    };
    action.run(async () => {
      await props.onSubmit({
        name: name.trim(),
        upstream: upstream.trim(),
        ...(service.trim() ? { service: service.trim() } : {}),
        ...(infrastructure.trim() ? { infrastructure: infrastructure.trim() } : {}),
        ...(version.trim() ? { version: version.trim() } : {}),
        access,
        auth,
        rateLimit: limited ? { requests: Number(limitRequests), per: limitPer, by: limitBy } : null,
        apiKeyCount: apiKeys ? keyCount : 0,
        ...(basic && secretValue ? { newSecretValue: secretValue } : {}),
      });
      setSecretValue('');
    });
  };

  const creating = props.mode === 'create';
  const known = new Set((secrets.data?.secrets ?? []).map((s) => s.name));
  return (
    <PanelForm
      label={creating ? 'New deployment' : `Edit ${d?.name}`}
      onSubmit={submit}
      submitLabel={props.submitLabel}
      busy={action.busy}
      error={action.error}
      onCancel={props.onCancel}
    >
      {creating && <Field id="dep-name" label="Name" required value={name} onValue={setName} />}
      <Field
        id="dep-upstream"
        label="Upstream URL (the model server)"
        type="url"
        required
        placeholder="http://127.0.0.1:9000"
        value={upstream}
        onValue={setUpstream}
      />
      {creating && (
        <div class="grid3">
          <div>
            <Field id="dep-service" label="Service (default: the name)" value={service} onValue={setService} />
          </div>
          <div>
            <Field id="dep-version" label="Version (default 1)" value={version} onValue={setVersion} />
          </div>
          <div>
            <Field
              id="dep-infra"
              label="Infrastructure (default: default)"
              value={infrastructure}
              onValue={setInfrastructure}
            />
          </div>
        </div>
      )}
      <details open={!creating}>
        <summary>Advanced options</summary>
        <fieldset>
          <legend>Access</legend>
          <Check radio="access" checked={access === 'protected'} onChange={() => setAccess('protected')}>
            Protected: callers must prove who they are
          </Check>
          <Check radio="access" checked={access === 'public'} onChange={() => setAccess('public')}>
            Public: anyone who can reach the gateway
          </Check>
        </fieldset>
        <fieldset disabled={access === 'public'}>
          <legend>Authentication</legend>
          <p class="hint">
            Unless the kinds it accepts are limited below, the node's inference key, people's API tokens and platform
            JWTs issued for this deployment (or its infrastructure) open a protected deployment too.
          </p>
          <Check
            checked={basic}
            onChange={setBasic}
            more={
              <>
                <Field
                  id="dep-secret"
                  label="Secret holding the password"
                  list="dep-secret-names"
                  required
                  value={secret}
                  onValue={setSecret}
                />
                <datalist id="dep-secret-names">
                  {(secrets.data?.secrets ?? []).map((s) => (
                    <option key={s.name} value={s.name} />
                  ))}
                </datalist>
                <Field
                  id="dep-secret-value"
                  label={
                    known.has(secret.trim()) ? 'New value for this secret (optional)' : 'Password (empty: generate one)'
                  }
                  type="password"
                  autoComplete="new-password"
                  value={secretValue}
                  onValue={setSecretValue}
                />
                <p class="hint">The deployment keeps the secret's value as it is at this (re)deploy.</p>
              </>
            }
          >
            HTTP Basic (username <code>{basicUsername()}</code>, password from a secret)
          </Check>
          <Check
            checked={apiKeys}
            onChange={setApiKeys}
            more={
              creating && (
                <Field
                  id="dep-key-count"
                  label="Create this many keys now"
                  type="number"
                  value={String(keyCount)}
                  onValue={(v) => setKeyCount(Math.max(0, Math.min(20, Number(v) || 0)))}
                />
              )
            }
          >
            API keys (<code>Authorization: Bearer mgk_…</code>)
          </Check>
          <Check
            checked={oidc}
            onChange={setOidc}
            more={
              <>
                <Field id="dep-issuer" label="Issuer" type="url" required value={issuer} onValue={setIssuer} />
                <Field
                  id="dep-audiences"
                  label="Audiences (comma-separated)"
                  value={audiences}
                  onValue={setAudiences}
                />
                <Field
                  id="dep-jwks"
                  label="JWKS URL (empty: OpenID discovery)"
                  type="url"
                  value={jwksUrl}
                  onValue={setJwksUrl}
                />
              </>
            }
          >
            OAuth2 / OpenID Connect access tokens from an external issuer
          </Check>
          <Check checked={forward} onChange={setForward}>
            Forward the caller's credential to the model server
          </Check>
        </fieldset>
        <fieldset disabled={access === 'public'}>
          <legend>Credentials it accepts</legend>
          <Check radio="credentials" checked={onlyKinds === null} onChange={() => setOnlyKinds(null)}>
            Every kind the settings above turn on
          </Check>
          <Check
            radio="credentials"
            checked={onlyKinds !== null}
            onChange={() => setOnlyKinds(onlyKinds ?? [])}
            more={CREDENTIAL_KINDS.map(([kind, label]) => (
              <Check
                key={kind}
                checked={(onlyKinds ?? []).includes(kind)}
                onChange={(on) =>
                  setOnlyKinds(on ? [...(onlyKinds ?? []), kind] : (onlyKinds ?? []).filter((k) => k !== kind))
                }
              >
                {`Accept ${label}`}
              </Check>
            ))}
          >
            Only these kinds
          </Check>
          <p class="hint">
            A listed kind counts while its own setting is on (HTTP Basic a secret, API keys, OIDC an issuer).
          </p>
        </fieldset>
        <fieldset>
          <legend>Rate limit</legend>
          <Check
            checked={limited}
            onChange={setLimited}
            more={
              <div class="grid3">
                <div>
                  <Field
                    id="dep-limit-requests"
                    label="Requests"
                    type="number"
                    required
                    value={limitRequests}
                    onValue={setLimitRequests}
                  />
                </div>
                <div>
                  <Select
                    id="dep-limit-per"
                    label="Per"
                    value={limitPer}
                    options={[
                      ['second', 'second'],
                      ['minute', 'minute'],
                      ['hour', 'hour'],
                    ]}
                    onValue={setLimitPer}
                  />
                </div>
                <div>
                  <Select
                    id="dep-limit-by"
                    label="Counted"
                    value={limitBy}
                    options={[
                      ['credential', 'for each caller'],
                      ['deployment', 'for all callers together'],
                    ]}
                    onValue={setLimitBy}
                  />
                </div>
              </div>
            }
          >
            Limit how often it may be called (over the limit: 429)
          </Check>
        </fieldset>
      </details>
    </PanelForm>
  );
}

/**
 * Makes or sets the Basic secret the form named, when the user typed a value for it: the
 * deployment then snapshots that value as it is created or redeployed.
 */
export async function writeSecretFirst(
  client: ReturnType<typeof useSession>['client'],
  value: DeploymentFormValue,
): Promise<void> {
  const secret = value.auth.basic_secret;
  if (!secret || value.newSecretValue === undefined) return;
  try {
    await client.request('post', '/api/v1/secrets', { body: { name: secret, value: value.newSecretValue } });
  } catch (err) {
    // It exists: this value replaces it (the deployment picks it up at this (re)deploy).
    if (!(err instanceof ModelgateApiError && err.status === 409)) throw err;
    await client.request('put', '/api/v1/secrets/{name}', {
      params: { name: secret },
      body: { value: value.newSecretValue },
    });
  }
}
