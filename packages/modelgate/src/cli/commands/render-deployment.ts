import type { AuthSettings } from '../../kernel/auth-settings.js';
import { admittedKinds } from '../../kernel/credential-kinds.js';
import { describeRateLimit } from '../../kernel/rate-limit.js';
import { type DeploymentInfo, renderFields } from '../client.js';
import { kindInWords } from './credentials-flag.js';
import { describeOidc } from './oidc-flags.js';

/** A deployment as `key: value` lines, for `show`, `deploy` and `redeploy`. */
export function renderDeployment(d: DeploymentInfo): string {
  return renderFields([
    ['name', d.name],
    ['path', `/${d.name}/`],
    ['access', d.access],
    ['enabled', d.enabled ? 'yes' : 'no'],
    ['upstream', d.upstream],
    ['service', `${d.service} version ${d.version}`],
    ['infrastructure', d.infrastructure],
    ['revision', String(d.revision)],
    ['auth', describeAuth(d)],
    ...(d.auth.oidc ? [['oidc', describeOidc(d.auth.oidc)] as const] : []),
    [
      'rate limit',
      d.rate_limit
        ? `${describeRateLimit(d.rate_limit)}${d.rate_limit.by === 'deployment' ? '' : ' per caller'}`
        : 'none',
    ],
    ['created', d.created_at],
    ['updated', d.updated_at],
  ]);
}

/** The ways of calling that auth settings open, in words: every kind they admit while protected. */
export function authMethods(auth: AuthSettings): string[] {
  return admittedKinds(auth).map((kind) => kindInWords(kind, auth));
}

function describeAuth(d: DeploymentInfo): string {
  const accepted = authMethods(d.auth).join(', ');
  const narrowed = d.auth.credentials === null ? '' : ' (only these, by its credentials list)';
  const forward = d.auth.forward_credential ? 'credential forwarded upstream' : 'credential not forwarded';
  const source = d.auth_source === 'override' ? "this deployment's override" : "the service version's settings";
  const note = d.access === 'public' ? '; not enforced while public' : '';
  return `${accepted}${narrowed}; ${forward} (from ${source}${note})`;
}
