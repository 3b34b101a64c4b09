import { Command } from 'commander';
import { ModelgateError } from '../kernel/errors.js';
import { registerAdminKeys } from './commands/admin-keys.js';
import { registerApiKeys } from './commands/api-keys.js';
import { registerApply } from './commands/apply.js';
import { registerAudit } from './commands/audit.js';
import { registerCatalog } from './commands/catalog.js';
import { registerCompletion } from './commands/completion.js';
import { registerDeploy } from './commands/deploy.js';
import { registerDeployments } from './commands/deployments.js';
import { registerForwardAuth } from './commands/forward-auth.js';
import { registerGrants } from './commands/grants.js';
import { registerGroups } from './commands/groups.js';
import { registerJwt } from './commands/jwt.js';
import { registerLogin } from './commands/login.js';
import { registerSecrets } from './commands/secrets.js';
import { registerSessions } from './commands/sessions.js';
import { registerStart } from './commands/start.js';
import { registerToken } from './commands/token.js';
import { registerTokens } from './commands/tokens.js';
import { registerUsers } from './commands/users.js';
import { reportFailure, setFailureFormat } from './output.js';
import { forEachCommand, helpHint, jsonRequested, usageLine } from './usage.js';

/** Builds the `modelgate` command line; one file per command under `commands/`. */
export function buildProgram(): Command {
  const program = new Command('modelgate')
    .description('Endpoint security for model deployments: a gateway in front of any model server')
    .version('0.1.0')
    // Root flags count only before the command, so `deploy --version V` is the command's own.
    .enablePositionalOptions()
    .exitOverride();
  registerStart(program);
  registerAdminKeys(program);
  registerDeploy(program);
  registerDeployments(program);
  registerSecrets(program);
  registerApiKeys(program);
  registerAudit(program);
  registerUsers(program);
  registerGroups(program);
  registerCatalog(program);
  registerGrants(program);
  registerSessions(program);
  registerToken(program);
  registerTokens(program);
  registerApply(program);
  registerJwt(program);
  registerLogin(program);
  registerForwardAuth(program);
  registerCompletion(program);
  return program;
}

/** Entry point of the `modelgate` binary. */
export async function main(argv: readonly string[]): Promise<void> {
  // `modelgate ... | head` closes the pipe early: that is the reader's choice, not a crash.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
  const program = buildProgram();
  // A usage error is reported by us, with the one-line usage of the command that failed (not the
  // whole help): commander only says which command that was through its output hook.
  let failed: Command = program;
  forEachCommand(program, (command) => {
    command.configureOutput({
      outputError: () => {
        failed = command;
      },
    });
    reportUnknownOptionsFirst(command);
  });
  program.hook('preAction', (_root, command) => {
    setFailureFormat({ json: command.opts().output === 'json', usage: usageLine(command), hint: helpHint(command) });
  });
  setFailureFormat({ json: jsonRequested(argv.slice(2)) });
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    const code = (err as { code?: string; exitCode?: number }).code;
    if (typeof code === 'string' && code.startsWith('commander.')) {
      if (code === 'commander.helpDisplayed' || code === 'commander.version') process.exitCode = 0;
      else if (code === 'commander.help')
        process.exitCode = 2; // a command group without its subcommand
      else {
        const message = (err as Error).message.replace(/^error: /, '');
        const usage = { usage: usageLine(failed), hint: helpHint(failed) };
        process.exitCode = reportFailure(new ModelgateError('CLI_USAGE', message), {
          json: jsonRequested(argv.slice(2)),
          ...usage,
        });
      }
      return;
    }
    process.exitCode = reportFailure(err);
  }
}

/** The parts of commander's Command that are not in its typings. */
interface CommanderInternals {
  missingMandatoryOptionValue(option: unknown): never;
  unknownOption(flag: string): never;
}

/**
 * commander checks required options before unknown ones, so `deploy m --upstrem URL` said that
 * --upstream is missing instead of "unknown option '--upstrem' (Did you mean --upstream?)".
 */
function reportUnknownOptionsFirst(command: Command): void {
  const internals = command as unknown as CommanderInternals;
  const missing = internals.missingMandatoryOptionValue.bind(command);
  internals.missingMandatoryOptionValue = (option: unknown) => {
    const known = (flag: string) => command.options.some((o) => o.long === flag || o.short === flag);
    const unknown = command.args.find((a) => /^--?[^-]/.test(a) && !known(a.split('=')[0] as string));
    if (unknown !== undefined) internals.unknownOption(unknown);
    return missing(option);
  };
}
