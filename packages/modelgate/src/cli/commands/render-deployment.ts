import { type DeploymentInfo, renderFields } from '../client.js';

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
    ['created', d.created_at],
    ['updated', d.updated_at],
  ]);
}

function describeAuth(d: DeploymentInfo): string {
  const methods = [
    ...(d.auth.basic_secret === null ? [] : [`Basic (secret ${d.auth.basic_secret})`]),
    ...(d.auth.api_keys ? ['API keys'] : []),
  ];
  const accepted = methods.length === 0 ? 'node inference key only' : `${methods.join(', ')}, node inference key`;
  const forward = d.auth.forward_credential ? 'credential forwarded upstream' : 'credential not forwarded';
  const source = d.auth_source === 'override' ? "this deployment's override" : "the service version's settings";
  const note = d.access === 'public' ? '; not enforced while public' : '';
  return `${accepted}; ${forward} (from ${source}${note})`;
}
