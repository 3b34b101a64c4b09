import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { type ApiOptions, apiCommand, type ManagementClient, withClient } from '../client.js';
import { exportState } from '../declarative/export.js';
import { type Action, planChanges } from '../declarative/plan.js';
import { fetchCurrentState, runActions } from '../declarative/remote.js';
import { actionsJson, countChanges, renderActions } from '../declarative/render.js';
import { desiredStateOrThrow, fileInvalid, referencesUnknown } from '../declarative/schema.js';
import { readSecretValues } from '../declarative/secret-values.js';
import { printJson, printText } from '../output.js';

interface FileOptions extends ApiOptions {
  readonly file: string;
  readonly prune?: boolean;
  readonly allowInlineSecrets?: boolean;
}

const APPLY_EXAMPLES = `
Examples:
  $ modelgate diff -f deployments.yaml                  # what would change (exit 1 if anything)
  $ HF_PASSWORD=... modelgate apply -f deployments.yaml # secrets: from_env / from_file, never printed
  $ modelgate export > node.yaml && modelgate apply -f node.yaml --prune
The file format: docs/declarative.md.`;

const FILE_HELP = 'the declarative file (YAML or JSON); "-" reads it from stdin';

/**
 * `modelgate apply -f FILE`, `modelgate diff -f FILE` and `modelgate export`: declarative
 * configuration (X9) through the management API. The format is docs/declarative.md.
 */
export function registerApply(program: Command): void {
  fileCommand(
    program
      .command('apply')
      .description('Make the node match a declarative file: create what is missing, update what differs')
      .addHelpText('after', APPLY_EXAMPLES),
  ).action((opts: FileOptions) =>
    withClient(opts, async (client, json) => {
      const { actions, secretValues } = await prepare(client, opts, { readSecrets: true });
      await runActions(client, actions, secretValues);
      if (json) return printJson({ changes: actionsJson(actions), applied: actions.length });
      printText(
        actions.length === 0
          ? renderActions(actions)
          : `${renderActions(actions)}\n\nApplied ${countChanges(actions.length)}.`,
      );
    }),
  );

  fileCommand(
    program
      .command('diff')
      .description('Print what `apply` would change; exit status 1 when there is a difference, 0 when none'),
  ).action((opts: FileOptions) =>
    withClient(opts, async (client, json) => {
      const { actions } = await prepare(client, opts, { readSecrets: false });
      if (json) printJson({ changes: actionsJson(actions) });
      else {
        const footer = `\n\n${countChanges(actions.length)}: \`modelgate apply -f ${opts.file}${opts.prune ? ' --prune' : ''}\` would make them.`;
        printText(actions.length === 0 ? renderActions(actions) : `${renderActions(actions)}${footer}`);
      }
      if (actions.length > 0) process.exitCode = 1;
    }),
  );

  apiCommand(
    program
      .command('export')
      .description(
        'Print the node as a declarative file (YAML; JSON with -o json): secrets by name only, API keys as counts',
      ),
  ).action((opts: ApiOptions) =>
    withClient(opts, async (client, json) => {
      const state = exportState(await fetchCurrentState(client, { access: 'if-allowed' }));
      if (json) return printJson(state);
      printText(
        `# modelgate export: apply it with \`modelgate apply -f FILE\`. Secrets carry no value: set the\n# named variables where a secret must be created.\n${toYaml(state)}`,
      );
    }),
  );
}

function fileCommand(command: Command): Command {
  return apiCommand(
    command
      .requiredOption('-f, --file <file>', FILE_HELP)
      .option('--prune', 'also delete what the node has and the file does not name')
      .option(
        '--allow-inline-secrets',
        'accept secret values written in the file (`value:`); prefer from_env or from_file',
      ),
  );
}

/**
 * Reads and validates the file, reads the node, plans, and (for `apply`) reads the values of the
 * secrets to create. Any problem, in the file or against the node, stops here: nothing is
 * changed. `diff` does not read secret values, so it can run where they are not available.
 */
async function prepare(
  client: ManagementClient,
  opts: FileOptions,
  { readSecrets }: { readSecrets: boolean },
): Promise<{ actions: readonly Action[]; secretValues: ReadonlyMap<string, string> }> {
  const { doc, source, baseDir } = readDocument(opts.file);
  if ((doc === null || doc === undefined) && opts.prune) {
    // A failed `modelgate export | modelgate apply --prune -f -` pipes nothing: never read that as "delete everything".
    throw fileInvalid(source, [
      `${source}: empty; with --prune that would delete everything (write \`deployments: []\` if that is meant)`,
    ]);
  }
  const desired = desiredStateOrThrow(doc, source, { allowInlineSecrets: opts.allowInlineSecrets === true });
  const current = await fetchCurrentState(client, { access: desired.access ? 'required' : 'skip' });
  const plan = planChanges(desired, current, { prune: opts.prune === true });
  const toCreate = new Set(plan.actions.flatMap((a) => (a.secretValueOf === undefined ? [] : [a.secretValueOf])));
  const read = readSecretValues(readSecrets ? desired.secrets.filter((s) => toCreate.has(s.name)) : [], {
    env: process.env,
    baseDir,
  });
  const problems = [...plan.unknown, ...plan.problems, ...read.problems];
  if (plan.unknown.length > 0) throw referencesUnknown(source, problems);
  if (problems.length > 0) throw fileInvalid(source, problems);
  return { actions: plan.actions, secretValues: read.values };
}

function readDocument(file: string): { doc: unknown; source: string; baseDir: string } {
  const stdin = file === '-';
  const source = stdin ? 'stdin' : file;
  let text: string;
  try {
    text = readFileSync(stdin ? 0 : file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw fileInvalid(source, [
      `${source}: ${code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? 'error'})`}`,
    ]);
  }
  try {
    return { doc: parseYaml(text), source, baseDir: stdin ? process.cwd() : dirname(resolve(file)) };
  } catch (err) {
    const pos = (err as { linePos?: { line: number; col: number }[] }).linePos?.[0];
    throw fileInvalid(source, [`${source}: not valid YAML${pos ? ` at line ${pos.line}, column ${pos.col}` : ''}`]);
  }
}
