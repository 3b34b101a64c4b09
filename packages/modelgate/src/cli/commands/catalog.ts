import { type Command, Option } from 'commander';
import type { AuthSettings } from '../../kernel/auth-settings.js';
import {
  type ApiOptions,
  apiCommand,
  apiPath,
  listAll,
  type ManagementClient,
  renderFields,
  withClient,
} from '../client.js';
import { readAllPages } from '../list-all.js';
import { printJson, printList, printText } from '../output.js';
import { renderTable } from '../table.js';
import { addCredentialsFlag, type CredentialsFlag, credentialsSetting } from './credentials-flag.js';
import { addOidcFlags, describeOidc, type OidcFlags, oidcFromFlags } from './oidc-flags.js';
import { authMethods } from './render-deployment.js';

interface NamedInfo {
  name: string;
  description: string;
  created_at: string;
}

/**
 * `modelgate infrastructures|services create|list|show|delete`: the named catalog deployments
 * point into. Lists show only what the caller may read.
 */
export function registerCatalog(program: Command): void {
  for (const [plural, singular, who] of [
    ['infrastructures', 'infrastructure', 'global admins'],
    ['services', 'service', 'the create_service privilege; you own what you create'],
  ] as const) {
    const group = program.command(plural).description(`Create, list, show and delete ${plural}`);

    apiCommand(
      group
        .command('create')
        .description(`Create a ${singular} (${who})`)
        .argument('<name>')
        .option('--description <text>', 'what it is for'),
    ).action((name: string, opts: ApiOptions & { description?: string }) =>
      withClient(opts, async (client, json) => {
        const made = await client.request<NamedInfo>('POST', apiPath(plural), {
          name,
          ...(opts.description === undefined ? {} : { description: opts.description }),
        });
        if (json) return printJson(made);
        printText(`Created ${singular} ${made.name}`);
      }),
    );

    apiCommand(group.command('list').description(`List the ${plural} you may see`)).action((opts: ApiOptions) =>
      withClient(opts, async (client, json) => {
        const items = await listAll<NamedInfo>(client, apiPath(plural), plural);
        if (json) return printList(items);
        const rows = items.map((r) => [r.name, r.description || '-', r.created_at]);
        printText(renderTable(['NAME', 'DESCRIPTION', 'CREATED'], rows));
      }),
    );

    if (plural === 'services') {
      registerServiceShow(group);
      registerVersions(group);
    } else {
      apiCommand(group.command('show').description(`Show a ${singular}`).argument('<name>')).action(
        (name: string, opts: ApiOptions) =>
          withClient(opts, async (client, json) => {
            const r = await client.request<NamedInfo>('GET', apiPath(plural, name));
            if (json) return printJson(r);
            printText(
              renderFields([
                ['name', r.name],
                ['description', r.description || '-'],
                ['created', r.created_at],
              ]),
            );
          }),
      );
    }

    apiCommand(
      group
        .command('delete')
        .description(`Delete a ${singular} (refused while a deployment uses it)`)
        .argument('<name>'),
    ).action((name: string, opts: ApiOptions) =>
      withClient(opts, async (client, json) => {
        await client.request('DELETE', apiPath(plural, name));
        if (json) return printJson({ deleted: name });
        printText(`Deleted ${singular} ${name}`);
      }),
    );
  }
}

/** A service version as the API shows it. */
interface VersionInfo {
  service: string;
  version: string;
  auth: AuthSettings;
  created_at: string;
}

interface GrantsInfo {
  owner: string | null;
  grants: { group: string; rights: string[] }[];
}

/** A version's design-time auth settings in words, for `show`. */
function describeVersionAuth(auth: AuthSettings): string {
  const methods = authMethods(auth);
  const forward = auth.forward_credential ? 'credential forwarded upstream' : 'credential not forwarded';
  return `${methods.join(', ')}; ${forward}`;
}

function versionsTable(versions: readonly VersionInfo[]): string {
  if (versions.length === 0) return 'No versions yet.';
  return renderTable(
    ['VERSION', 'AUTH', 'CREATED'],
    versions.map((v) => [v.version, describeVersionAuth(v.auth), v.created_at]),
  );
}

function listVersions(client: ManagementClient, service: string): Promise<VersionInfo[]> {
  return listAll<VersionInfo>(client, apiPath('services', service, 'versions'), 'versions');
}

/** `modelgate services show NAME`: the service, its versions and who holds rights on it. */
function registerServiceShow(services: Command): void {
  apiCommand(
    services.command('show').description('Show a service, its versions and its grants').argument('<name>'),
  ).action((name: string, opts: ApiOptions) =>
    withClient(opts, async (client, json) => {
      const service = await client.request<NamedInfo>('GET', apiPath('services', name));
      const versions = await listVersions(client, name);
      const grants = await readAllPages<GrantsInfo>(client, apiPath('services', name, 'grants'), 'grants');
      if (json) return printJson({ ...service, versions, owner: grants.owner, grants: grants.grants });
      const grantRows = grants.grants.map((g) => [g.group, g.rights.join(',')]);
      printText(
        [
          renderFields([
            ['name', service.name],
            ['description', service.description || '-'],
            ['created', service.created_at],
            ['owner', grants.owner ?? '-'],
          ]),
          '',
          versionsTable(versions),
          '',
          grantRows.length > 0 ? renderTable(['GROUP', 'RIGHTS'], grantRows) : 'No grants.',
        ].join('\n'),
      );
    }),
  );
}

interface VersionCreateOptions extends ApiOptions, OidcFlags {
  readonly credentials?: CredentialsFlag;
  readonly basicSecret?: string;
  readonly apiKeys?: 'on' | 'off';
  readonly forwardCredential?: boolean;
}

/** `modelgate services versions create|list|show`: a service's immutable versions (D4, D6). */
function registerVersions(services: Command): void {
  const versions = services.command('versions').description("A service's versions and their design-time auth settings");

  apiCommand(
    addCredentialsFlag(
      addOidcFlags(
        versions
          .command('create')
          .description('Create a version with its auth settings (write right on the service; versions are immutable)')
          .argument('<service>')
          .argument('<version>')
          .option('--basic-secret <secret>', 'accept HTTP Basic with this secret’s value as the password')
          .addOption(new Option('--api-keys <on|off>', 'accept API keys (default: on)').choices(['on', 'off']))
          .option('--forward-credential', "pass the caller's credential on to the model server"),
        false,
      ),
    ),
  ).action((service: string, version: string, opts: VersionCreateOptions) =>
    withClient(opts, async (client, json) => {
      const oidc = oidcFromFlags(opts);
      const auth = {
        basic_secret: opts.basicSecret ?? null,
        api_keys: opts.apiKeys !== 'off',
        forward_credential: opts.forwardCredential === true,
        ...(oidc ? { oidc } : {}),
        ...(opts.credentials === undefined ? {} : { credentials: credentialsSetting(opts.credentials) }),
      };
      const made = await client.request<VersionInfo>('POST', apiPath('services', service, 'versions'), {
        version,
        auth,
      });
      if (json) return printJson(made);
      printText(`Created version ${made.version} of service ${made.service}: ${describeVersionAuth(made.auth)}`);
    }),
  );

  apiCommand(versions.command('list').description("List a service's versions").argument('<service>')).action(
    (service: string, opts: ApiOptions) =>
      withClient(opts, async (client, json) => {
        const all = await listVersions(client, service);
        if (json) return printList(all);
        printText(versionsTable(all));
      }),
  );

  apiCommand(
    versions
      .command('show')
      .description('Show a version and its auth settings')
      .argument('<service>')
      .argument('<version>'),
  ).action((service: string, version: string, opts: ApiOptions) =>
    withClient(opts, async (client, json) => {
      const v = await client.request<VersionInfo>('GET', apiPath('services', service, 'versions', version));
      if (json) return printJson(v);
      printText(
        renderFields([
          ['service', v.service],
          ['version', v.version],
          ['auth', describeVersionAuth(v.auth)],
          ...(v.auth.oidc ? [['oidc', describeOidc(v.auth.oidc)] as const] : []),
          ['created', v.created_at],
        ]),
      );
    }),
  );
}
