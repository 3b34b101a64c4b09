import type { Command } from 'commander';
import { ModelgateError } from '../../kernel/errors.js';
import { type ApiOptions, apiCommand, apiPath, renderFields, withClient } from '../client.js';
import { printJson, printText } from '../output.js';
import { readPassword } from '../password-input.js';

/**
 * `modelgate sessions create --username U` signs in and prints a session credential usable as
 * `--api-token` or `MODELGATE_API_TOKEN`; `modelgate sessions delete` signs that credential out.
 */
export function registerSessions(program: Command): void {
  const sessions = program.command('sessions').description('Sign in (print a session credential) and sign out');

  apiCommand(
    sessions
      .command('create')
      .description('Sign in: the password is read from stdin, or asked without echo on a terminal')
      .requiredOption('--username <username>', 'who signs in')
      .addHelpText(
        'after',
        `
Examples:
  $ export MODELGATE_API_TOKEN=$(modelgate sessions create --username alice)
  $ printf '%s' "$PASSWORD" | modelgate sessions create --username alice -o json`,
      ),
  ).action((opts: ApiOptions & { username: string }) =>
    withClient(opts, async (client, json) => {
      const password = await readPassword(`Password for ${opts.username}: `);
      if (password === '') throw new ModelgateError('CLI_USAGE', 'no password given');
      const res = await client.request<{ token: string; expires_at: string }>('POST', apiPath('sessions'), {
        username: opts.username,
        password,
      });
      if (json) return printJson(res);
      // The token alone on stdout, so `$(modelgate sessions create ...)` captures it.
      printText(res.token);
      process.stderr.write(`Signed in as ${opts.username} until ${res.expires_at}\n`);
    }),
  );

  apiCommand(
    sessions.command('delete').description('Sign out: the session credential given with --api-token stops working'),
  ).action((opts: ApiOptions) =>
    withClient(opts, async (client, json) => {
      await client.request('DELETE', apiPath('sessions', 'current'));
      if (json) return printJson({ signed_out: true });
      printText('Signed out');
    }),
  );

  apiCommand(sessions.command('whoami').description('Who the credential is: user, groups, global privileges')).action(
    (opts: ApiOptions) =>
      withClient(opts, async (client, json) => {
        const me = await client.request<{
          kind: string;
          id: string;
          user?: string;
          groups?: string[];
          privileges: string[];
        }>('GET', apiPath('whoami'));
        if (json) return printJson(me);
        printText(
          renderFields([
            ['kind', me.kind],
            ['id', me.id],
            ...(me.user ? ([['user', me.user]] as const) : []),
            ...(me.groups ? ([['groups', me.groups.join(', ') || '-']] as const) : []),
            ['privileges', me.privileges.join(', ') || '-'],
          ]),
        );
      }),
  );
}
