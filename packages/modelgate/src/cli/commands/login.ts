import type { Command } from 'commander';
import { ModelgateError } from '../../kernel/errors.js';
import { type ApiOptions, ApiRequestError, apiPath, ManagementClient, tlsFromOptions, tlsOptions } from '../client.js';
import {
  checkContextName,
  contextsPath,
  currentContext,
  DEFAULT_CONTEXT_NAME,
  deleteContext,
  type LoginContext,
  readContextsFile,
  saveContext,
  useContext,
  writeContextsFile,
} from '../contexts.js';
import { DEFAULT_ENDPOINT, resolveEndpoint } from '../credentials.js';
import { outputOption, printJson, printList, printText, reportFailure } from '../output.js';
import { readFirstLine, readPassword } from '../password-input.js';
import { renderTable } from '../table.js';
import { browserLogin } from '../web-login.js';

interface LoginOptions extends ApiOptions {
  readonly context?: string;
  /** `--web`: approve a new API token in the console instead of pasting one. */
  readonly web?: boolean;
  readonly tokenName?: string;
  /** `--no-browser`: print the address only. */
  readonly browser?: boolean;
}

/** `GET /api/v1/whoami` → 200. */
interface Whoami {
  readonly kind: string;
  readonly id: string;
  readonly user?: string;
  /** The API token's id when the credential is a person's API token acting as its owner. */
  readonly token?: string;
}

const LOGIN_EXAMPLES = `
Examples:
  $ modelgate login --endpoint https://gate.example.com:8081 --context prod   # asks for the token
  $ printf '%s\\n' "$TOKEN" | modelgate login --context ci                     # reads it from stdin
  $ modelgate login --web --endpoint https://gate.example.com:8081             # approve a new token in the console
  $ modelgate current-context | jq '("endpoint:" + .endpoint + ", api_token:" + .api_token)'`;

/**
 * `modelgate login`, `logout`, `contexts list|use|delete` and `current-context` (FEATURES B4):
 * named contexts (an endpoint and a token) in `$XDG_CONFIG_HOME/modelgate/contexts.json`, mode
 * 0600. The token is shown by `current-context` only.
 */
export function registerLogin(program: Command): void {
  tlsOptions(
    program
      .command('login')
      .description(
        'Check a management API token and save it with its endpoint as a named context, made current; ' +
          'without --api-token the token is asked without echo (or read from stdin)',
      )
      .option('--endpoint <url>', `management API URL (else env MODELGATE_ENDPOINT, else ${DEFAULT_ENDPOINT})`)
      .option('--context <name>', `name to save the login under (default: ${DEFAULT_CONTEXT_NAME})`)
      .option('--api-token <token>', 'the token to save (prefer the prompt or stdin: flags show in the process list)')
      .option('--web', 'create the token in the web console instead: prints its address (and opens it when it can)')
      .option('--token-name <name>', 'with --web: the name proposed for the new API token', 'cli')
      .option('--no-browser', 'with --web: only print the address, do not open a browser'),
  )
    .addOption(outputOption())
    .addHelpText('after', LOGIN_EXAMPLES)
    .action((opts: LoginOptions) => run(() => login(opts)));

  program
    .command('logout')
    .description(
      'Forget the current context (its token is not revoked); afterwards no context is current until `contexts use NAME`',
    )
    .addOption(outputOption())
    .action((opts: { output: string }) =>
      run(() => {
        const path = contextsPath(process.env);
        const file = readContextsFile(path);
        const current = currentContext(file);
        if (!current) throw noCurrentContext();
        writeContextsFile(path, deleteContext(file, current.name));
        if (opts.output === 'json') return printJson({ deleted: current.name, current_context: null });
        printText(
          `Logged out: context "${current.name}" (${current.endpoint}) removed from ${path}. No context is current now` +
            `${file.contexts.length > 1 ? '; pick one with `modelgate contexts use NAME`' : ''}.`,
        );
      }),
    );

  const contexts = program.command('contexts').description('List, switch and delete saved login contexts');
  contexts
    .command('list')
    .description('List saved contexts (names and endpoints, never tokens); * marks the current one')
    .addOption(outputOption())
    .action((opts: { output: string }) =>
      run(() => {
        const file = readContextsFile(contextsPath(process.env));
        const items = file.contexts.map((c) => ({
          name: c.name,
          endpoint: c.endpoint,
          current: c.name === file.current_context,
        }));
        if (opts.output === 'json') return printList(items, { current_context: file.current_context });
        if (items.length === 0) return printText('No contexts saved. Save one with: modelgate login');
        printText(
          renderTable(
            ['CURRENT', 'NAME', 'ENDPOINT'],
            items.map((c) => [c.current ? '*' : '', c.name, c.endpoint]),
          ),
        );
      }),
    );

  contexts
    .command('use')
    .description('Make a saved context the current one')
    .argument('<name>', 'context name from `contexts list`')
    .addOption(outputOption())
    .action((name: string, opts: { output: string }) =>
      run(() => {
        const path = contextsPath(process.env);
        const file = useContext(readContextsFile(path), name);
        writeContextsFile(path, file);
        const c = currentContext(file) as LoginContext;
        if (opts.output === 'json') return printJson({ name: c.name, endpoint: c.endpoint, current: true });
        printText(`Current context is now "${c.name}" (${c.endpoint})`);
      }),
    );

  contexts
    .command('delete')
    .description('Delete a saved context; when it was the current one, no context is current afterwards')
    .argument('<name>', 'context name from `contexts list`')
    .addOption(outputOption())
    .action((name: string, opts: { output: string }) =>
      run(() => {
        const path = contextsPath(process.env);
        const before = readContextsFile(path);
        const after = deleteContext(before, name);
        writeContextsFile(path, after);
        if (opts.output === 'json') return printJson({ deleted: name, current_context: after.current_context });
        const note = before.current_context === name ? ' It was the current context: none is current now.' : '';
        printText(`Deleted context "${name}".${note}`);
      }),
    );

  program
    .command('current-context')
    .description('Print the current context as JSON: name, endpoint and api_token (the token in clear)')
    .addHelpText('after', LOGIN_EXAMPLES)
    .action(() =>
      run(() => {
        const c = currentContext(readContextsFile(contextsPath(process.env)));
        if (!c) throw noCurrentContext();
        printJson({
          name: c.name,
          endpoint: c.endpoint,
          api_token: c.api_token,
          ...(c.cacert ? { cacert: c.cacert } : {}),
        });
      }),
    );
}

/** Checks the token against the API (`whoami`) and only then saves it. */
async function login(opts: LoginOptions): Promise<void> {
  const name = checkContextName(opts.context ?? DEFAULT_CONTEXT_NAME);
  const path = contextsPath(process.env);
  const file = readContextsFile(path);
  // Logging in again to a saved context keeps its endpoint unless another is given.
  const previous = file.contexts.find((c) => c.name === name);
  const endpoint = resolveEndpoint(opts, { env: process.env, context: previous });
  const tls = tlsFromOptions(opts, opts.cacert ?? (previous?.endpoint === endpoint ? previous.cacert : undefined));
  const token = opts.web
    ? await browserLogin({
        client: new ManagementClient({ endpoint, tls }),
        tokenName: opts.tokenName ?? 'cli',
        open: opts.browser !== false && process.stdout.isTTY === true,
        say: (line) => process.stderr.write(`${line}\n`),
      })
    : await tokenFromUser(opts.apiToken, endpoint);
  const client = new ManagementClient({
    endpoint,
    credential: { token, source: opts.apiToken && !opts.web ? 'flag' : 'prompt' },
    tls,
  });
  const me = await client.request<Whoami>('GET', apiPath('whoami')).catch((err: unknown) => {
    if (!(err instanceof ModelgateError)) throw err;
    throw nothingSaved(isApiToken(token) && forbidden(err) ? withOpsHint(err) : err);
  });
  const context: LoginContext = { name, endpoint, api_token: token, ...(tls.caFile ? { cacert: tls.caFile } : {}) };
  writeContextsFile(path, saveContext(file, context));
  const who = describeWhoami(me);
  if (opts.output === 'json') {
    return printJson({ name, endpoint, current: true, principal: me, ...(tls.caFile ? { cacert: tls.caFile } : {}) });
  }
  printText(`Logged in to ${endpoint} as ${who}. Saved as context "${name}" (now current) in ${path}`);
}

/**
 * The token: `--api-token`, else asked on the terminal without echo, else the first line of
 * stdin (a pipe or a file). Empty is a usage error.
 */
async function tokenFromUser(flag: string | undefined, endpoint: string): Promise<string> {
  let token: string;
  if (flag !== undefined) token = flag;
  else if (process.stdin.isTTY) token = await readPassword(`API token for ${endpoint}: `);
  else token = await readFirstLine();
  token = token.trim();
  if (token === '') throw new ModelgateError('CLI_USAGE', 'no token given: pass --api-token, type it, or pipe it in');
  return token;
}

/**
 * Whether a token is a person's API token (`mgt_`). Login refuses one without Developer
 * Operations access (the API answers 403): a context is a management API credential, and an
 * endpoint-only token could not run a single command with it. Saving it anyway would only defer
 * the same 403 to the first command.
 */
function isApiToken(token: string): boolean {
  return token.startsWith('mgt_');
}

function forbidden(err: ModelgateError): boolean {
  return err instanceof ApiRequestError && err.httpStatus === 403;
}

/** The 403 of an endpoint-only API token, saying what to do instead. */
function withOpsHint(err: ModelgateError): ModelgateError {
  err.message =
    `${err.message}. A login context calls the management API, which needs an API token with Developer ` +
    'Operations access (`modelgate tokens create NAME --ops`); a token with only Protected Endpoint access is ' +
    'for the deployments: send it as `Authorization: Bearer` or sign in to a deployment in the browser';
  return err;
}

/** The same failure, saying that the contexts file was not touched. */
function nothingSaved(err: ModelgateError): ModelgateError {
  err.message = `${err.message}; nothing was saved`;
  return err;
}

function describeWhoami(me: Whoami): string {
  if (me.kind === 'anonymous') return 'anonymous (the node does not check credentials: token authorization is off)';
  if (me.kind === 'user') return `user "${me.user ?? me.id}"${me.token ? ` (API token ${me.token})` : ''}`;
  return `${me.kind.replaceAll('_', ' ')} ${me.id}`;
}

function noCurrentContext(): ModelgateError {
  return new ModelgateError(
    'CLI_CONTEXT_NOT_FOUND',
    'no current login context: run `modelgate login`, or `modelgate contexts use NAME` for a saved one',
  );
}

/** Runs a command body; a failure becomes one message on stderr and the exit status. */
async function run(body: () => void | Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    process.exitCode = reportFailure(err);
  }
}
