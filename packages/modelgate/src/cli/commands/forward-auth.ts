import { Argument, type Command, Option } from 'commander';
import { FORWARD_AUTH_CONTRACTS, type ForwardAuthContract } from '../../dataplane/forward-auth/contracts.js';
import { proxyConfig } from '../../dataplane/forward-auth/generators.js';
import { isDeploymentName } from '../../dataplane/path.js';
import { ModelgateError } from '../../kernel/errors.js';
import { type ApiOptions, apiCommand, apiPath, clientFromOptions, type DeploymentInfo, listAll } from '../client.js';
import { printText, warn } from '../output.js';

const EXAMPLES = `
Examples:
  $ modelgate forward-auth nginx --listen 127.0.0.1:8088 > nginx.conf && nginx -c "$PWD/nginx.conf"
  $ modelgate forward-auth caddy --listen 127.0.0.1:8088 > Caddyfile && caddy run --adapter caddyfile --config Caddyfile
  $ modelgate forward-auth traefik --listen :8088 --deployment churn --upstream http://10.0.0.5:9000 > modelgate.yml

The node must list the proxy's address in trusted_proxies (docs/forward-auth.md).`;

interface ForwardAuthOptions extends ApiOptions {
  readonly listen: string;
  readonly node: string;
  readonly deployment?: string;
  readonly upstream?: string;
  readonly runDir?: string;
  readonly cache?: boolean;
  /** False with `--no-upstreams`. */
  readonly upstreams: boolean;
}

/**
 * `modelgate forward-auth nginx|caddy|traefik|envoy`: prints a whole configuration for that proxy
 * that asks the node about every request and forwards the allowed ones (F1).
 */
export function registerForwardAuth(program: Command): void {
  const command = program
    .command('forward-auth')
    .description(
      'Print a configuration for nginx, Caddy, Traefik or Envoy that asks this node who may call each deployment',
    )
    .addArgument(new Argument('<proxy>', 'the proxy').choices(FORWARD_AUTH_CONTRACTS))
    .requiredOption('--listen <host:port>', 'where the proxy listens')
    .option('--node <url>', "the node's inference listener, where the proxy asks", 'http://127.0.0.1:8080')
    .option('--deployment <name>', 'only this deployment (nginx and Caddy: every deployment by default)')
    .addOption(
      new Option('--upstream <url>', "Traefik and Envoy: the deployment's upstream (their upstream is static)"),
    )
    .option('--run-dir <dir>', 'nginx: where its pid and temporary files go')
    .option('--cache', 'nginx: cache allowing decisions for as long as the node allows (forward_auth_cache_s)')
    .option('--no-upstreams', "nginx: do not ask the management API for the deployments' upstreams (keep-alive groups)")
    .addHelpText('after', EXAMPLES);
  apiCommand(command).action(async (proxy: ForwardAuthContract, opts: ForwardAuthOptions) => {
    check(proxy, opts);
    const upstreams = proxy === 'nginx' && opts.upstreams ? await knownUpstreams(opts) : [];
    printText(proxyConfig(proxy, { ...opts, upstreams }));
  });
}

/** Refuses what would print a configuration that cannot work. */
function check(proxy: ForwardAuthContract, opts: ForwardAuthOptions): void {
  if (!/^(\[[0-9a-fA-F:]+\]|[^\s:/]*):\d{1,5}$/.test(opts.listen)) {
    throw new ModelgateError('VALIDATION_FAILED', `--listen must be HOST:PORT, got ${JSON.stringify(opts.listen)}`);
  }
  for (const [flag, value] of [
    ['--node', opts.node],
    ['--upstream', opts.upstream],
  ] as const) {
    if (value !== undefined && !/^https?:\/\/[^\s]+$/.test(value)) {
      throw new ModelgateError('VALIDATION_FAILED', `${flag} must be an http(s) URL, got ${JSON.stringify(value)}`);
    }
  }
  if (opts.deployment !== undefined && !isDeploymentName(opts.deployment)) {
    throw new ModelgateError(
      'VALIDATION_FAILED',
      `--deployment is not a deployment name: ${JSON.stringify(opts.deployment)}`,
    );
  }
  if ((proxy === 'traefik' || proxy === 'envoy') && (opts.deployment === undefined || opts.upstream === undefined)) {
    throw new ModelgateError(
      'VALIDATION_FAILED',
      `${proxy} routes to a static upstream: give --deployment NAME and --upstream URL (nginx and Caddy forward where the node says)`,
    );
  }
  if (opts.cache && proxy !== 'nginx') {
    throw new ModelgateError('VALIDATION_FAILED', '--cache is for nginx (its proxy_cache on the decision)');
  }
}

/**
 * The upstreams of the node's deployments, for nginx's keep-alive groups. Optional: without the
 * management API the configuration still works, with a new upstream connection per request.
 */
async function knownUpstreams(opts: ApiOptions): Promise<string[]> {
  try {
    const client = clientFromOptions(opts);
    const deployments = await listAll<DeploymentInfo>(client, apiPath('deployments'), 'deployments');
    return deployments.map((d) => d.upstream);
  } catch (err) {
    warn(
      `could not list the deployments' upstreams (${err instanceof Error ? err.message : String(err)}): nginx will open a new upstream connection per request; run again with the node reachable, or --no-upstreams`,
    );
    return [];
  }
}
