import { type Command, InvalidArgumentError, Option } from 'commander';
import type { NamedAuditRecord } from '../../store/audit.js';
import { type ApiOptions, apiCommand, apiPath, type ManagementClient, withClient } from '../client.js';
import { printList, printText } from '../output.js';
import { renderTable } from '../table.js';

interface AuditOptions extends ApiOptions {
  readonly follow?: boolean;
  readonly interval: number;
  readonly limit?: string;
  readonly actor?: string;
  readonly action?: string;
  readonly target?: string;
  readonly targetKind?: string;
  readonly outcome?: string;
  readonly listener?: string;
  readonly since?: string;
  readonly until?: string;
  readonly cursor?: string;
}

/** `GET /api/v1/audit` → 200. */
export interface AuditPage {
  readonly records: readonly NamedAuditRecord[];
  readonly next_cursor: string | null;
}

const FILTERS = [
  ['actor', 'actor'],
  ['action', 'action'],
  ['target', 'target'],
  ['targetKind', 'target_kind'],
  ['outcome', 'outcome'],
  ['listener', 'listener'],
  ['since', 'since'],
  ['until', 'until'],
] as const;

const EXAMPLES = `
Examples:
  $ modelgate audit --outcome denied --since 2026-01-31T00:00:00Z
  $ modelgate audit --action 'deployment.*' -o json
  $ modelgate audit --follow`;

/**
 * `modelgate audit [--follow] [filters] [-o json]`: the audit log, newest first; with
 * `--follow`, oldest first from `--since` (default: now) and then new records as they come,
 * polling with the API's cursor.
 */
export function registerAudit(program: Command): void {
  apiCommand(
    program
      .command('audit')
      .description('Show the audit log: management changes, refused attempts, admin-key commands, data-plane refusals')
      .option('-f, --follow', 'keep printing new records (oldest first; one JSON object per line with -o json)')
      .option('--interval <seconds>', 'how often --follow polls', positiveNumber, 2)
      .option('--limit <n>', 'records per page (1-1000); without --follow, how many to show', '50')
      .option('--actor <id>', 'principal id, e.g. node:management or an admin key id')
      .option('--action <action>', "action, exact or a prefix ending in '*' (deployment.*)")
      .option('--target <name>', 'target name, e.g. sentiment or sentiment/1.0')
      .option('--target-kind <kind>', 'target kind, e.g. deployment')
      .addOption(
        new Option('--outcome <outcome>', 'allowed, denied or failed').choices(['allowed', 'denied', 'failed']),
      )
      .addOption(new Option('--listener <listener>', 'where it happened').choices(['management', 'inference', 'cli']))
      .option('--cursor <cursor>', 'the page after a previous one: its next_cursor (-o json), with the same filters')
      .option('--since <time>', 'ISO-8601 time, inclusive')
      .option('--until <time>', 'ISO-8601 time, exclusive')
      .addHelpText('after', EXAMPLES),
  ).action((opts: AuditOptions) =>
    withClient(opts, async (client, json) => {
      if (opts.follow) return follow(client, opts, json);
      const page = await client.request<AuditPage>('GET', auditUrl(opts, { order: 'desc', cursor: opts.cursor }));
      if (json) return printList(page.records, { next_cursor: page.next_cursor });
      printText(page.records.length === 0 ? 'No audit records match.' : table(page.records));
    }),
  );
}

/** Polls ascending pages with the cursor until interrupted. */
async function follow(client: ManagementClient, opts: AuditOptions, json: boolean): Promise<never> {
  const since = opts.since ?? new Date().toISOString();
  let cursor: string | undefined;
  let header = !json;
  for (;;) {
    const page = await client.request<AuditPage>('GET', auditUrl({ ...opts, since }, { order: 'asc', cursor }));
    if (json) for (const record of page.records) process.stdout.write(`${JSON.stringify(record)}\n`);
    else if (page.records.length > 0) {
      const lines = table(page.records).split('\n');
      printText((header ? lines : lines.slice(1)).join('\n'));
      header = false;
    }
    cursor = page.next_cursor ?? cursor;
    // A full page means more are waiting: ask again at once.
    if (page.records.length < Number(opts.limit ?? 50)) {
      await new Promise((resolve) => setTimeout(resolve, opts.interval * 1000));
    }
  }
}

function auditUrl(opts: AuditOptions, page: { order: 'asc' | 'desc'; cursor?: string | undefined }): string {
  const query = new URLSearchParams();
  for (const [option, param] of FILTERS) {
    const value = opts[option];
    if (value !== undefined) query.set(param, value);
  }
  if (opts.limit !== undefined) query.set('limit', opts.limit);
  if (page.cursor !== undefined) query.set('cursor', page.cursor);
  else query.set('order', page.order);
  return `${apiPath('audit')}?${query}`;
}

function table(records: readonly NamedAuditRecord[]): string {
  return renderTable(
    ['TIME', 'ACTOR', 'ACTION', 'TARGET', 'OUTCOME', 'STATUS', 'CODE', 'ADDRESS'],
    records.map((r) => [
      r.time,
      r.actor_name ? `${r.actor_kind}:${r.actor_name} (${r.actor})` : `${r.actor_kind}:${r.actor}`,
      r.action,
      r.target_name ?? '-',
      r.outcome,
      String(r.status),
      r.code ?? '-',
      r.client_address ?? '-',
    ]),
  );
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!(n > 0)) throw new InvalidArgumentError('must be a positive number of seconds');
  return n;
}
