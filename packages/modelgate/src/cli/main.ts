import { Command } from 'commander';
import { registerAdminKeys } from './commands/admin-keys.js';
import { registerApiKeys } from './commands/api-keys.js';
import { registerApply } from './commands/apply.js';
import { registerAudit } from './commands/audit.js';
import { registerCatalog } from './commands/catalog.js';
import { registerDeploy } from './commands/deploy.js';
import { registerDeployments } from './commands/deployments.js';
import { registerGrants } from './commands/grants.js';
import { registerGroups } from './commands/groups.js';
import { registerJwt } from './commands/jwt.js';
import { registerSecrets } from './commands/secrets.js';
import { registerSessions } from './commands/sessions.js';
import { registerStart } from './commands/start.js';
import { registerToken } from './commands/token.js';
import { registerTokens } from './commands/tokens.js';
import { registerUsers } from './commands/users.js';
import { reportFailure } from './output.js';

/** Builds the `modelgate` command line; one file per command under `commands/`. */
export function buildProgram(): Command {
  const program = new Command('modelgate')
    .description('Endpoint security for model deployments: a gateway in front of any model server')
    .version('0.1.0')
    .showHelpAfterError()
    // Root flags count only before the command, so `deploy --version V` is the command's own.
    .enablePositionalOptions()
    .configureOutput({ outputError: (text, write) => write(text) })
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
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    const code = (err as { code?: string; exitCode?: number }).code;
    if (typeof code === 'string' && code.startsWith('commander.')) {
      const exit = (err as { exitCode?: number }).exitCode ?? 2;
      process.exitCode = code === 'commander.helpDisplayed' || code === 'commander.version' ? 0 : exit === 1 ? 2 : exit;
      return;
    }
    process.exitCode = reportFailure(err);
  }
}
