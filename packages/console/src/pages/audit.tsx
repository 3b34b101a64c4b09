import type { components } from '@modelgate/client';
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Check, Field } from '../forms';
import { useSession } from '../session';
import { Table } from '../tables';
import { PageTitle, Problem, useAction, when } from '../ui';

type AuditRecord = components['schemas']['AuditRecord'];

interface Filters {
  actor: string;
  action: string;
  target: string;
  outcome: '' | 'allowed' | 'denied' | 'failed';
  since: string;
  until: string;
}

const NONE: Filters = { actor: '', action: '', target: '', outcome: '', since: '', until: '' };
const FOLLOW_MS = 2000;

/** The API's query for the filters: empty ones left out, local times as ISO-8601. */
function queryOf(f: Filters, cursor?: string) {
  const iso = (v: string) => (v ? new Date(v).toISOString() : undefined);
  return {
    limit: '100',
    ...(f.actor ? { actor: f.actor } : {}),
    ...(f.action ? { action: f.action } : {}),
    ...(f.target ? { target: f.target } : {}),
    ...(f.outcome ? { outcome: f.outcome } : {}),
    ...(f.since ? { since: iso(f.since) } : {}),
    ...(f.until ? { until: iso(f.until) } : {}),
    ...(cursor ? { cursor } : {}),
  };
}

/** The audit log: filtered by actor, action, target, outcome and time, newest first; live follow. */
export function AuditPage(): JSX.Element {
  const { client } = useSession();
  const [draft, setDraft] = useState<Filters>(NONE);
  const [filters, setFilters] = useState<Filters>(NONE);
  const [records, setRecords] = useState<AuditRecord[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [follow, setFollow] = useState(false);
  const action = useAction();

  const load = (f: Filters) =>
    action.run(async () => {
      const page = await client.request('get', '/api/v1/audit', { query: queryOf(f) });
      setRecords(page.records);
      setNext(page.next_cursor);
    });
  useEffect(() => {
    load(filters);
  }, [filters]);
  // Live follow: the newest page again every two seconds, new records merged on top.
  useEffect(() => {
    if (!follow) return;
    const timer = setInterval(async () => {
      try {
        const page = await client.request('get', '/api/v1/audit', { query: queryOf(filters) });
        setRecords((old) => {
          const seen = new Set(old.map((r) => r.id));
          return [...page.records.filter((r) => !seen.has(r.id)), ...old];
        });
      } catch {
        setFollow(false);
      }
    }, FOLLOW_MS);
    return () => clearInterval(timer);
  }, [follow, filters]);

  const older = () =>
    action.run(async () => {
      if (!next) return;
      const page = await client.request('get', '/api/v1/audit', { query: queryOf(filters, next) });
      setRecords((old) => [...old, ...page.records]);
      setNext(page.next_cursor);
    });
  const field = (key: keyof Filters) => (value: string) => setDraft({ ...draft, [key]: value });

  return (
    <>
      <PageTitle>Audit log</PageTitle>
      <form
        class="panel filters"
        aria-label="Filters"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters(draft);
        }}
      >
        <div>
          <Field id="audit-actor" label="Actor (principal id)" value={draft.actor} onValue={field('actor')} />
        </div>
        <div>
          <Field id="audit-action" label="Action (deployment.*)" value={draft.action} onValue={field('action')} />
        </div>
        <div>
          <Field id="audit-target" label="Target" value={draft.target} onValue={field('target')} />
        </div>
        <div>
          <label for="audit-outcome">Outcome</label>
          <select id="audit-outcome" value={draft.outcome} onChange={(e) => field('outcome')(e.currentTarget.value)}>
            <option value="">any</option>
            <option value="allowed">allowed</option>
            <option value="denied">denied</option>
            <option value="failed">failed</option>
          </select>
        </div>
        <div>
          <Field id="audit-since" label="Since" type="datetime-local" value={draft.since} onValue={field('since')} />
        </div>
        <div>
          <Field id="audit-until" label="Until" type="datetime-local" value={draft.until} onValue={field('until')} />
        </div>
        <div>
          <button type="submit">Apply filters</button>
        </div>
      </form>
      <Check checked={follow} onChange={setFollow}>
        Live follow (new records appear at the top)
      </Check>
      <Problem error={action.error} />
      <Table
        caption="Audit records, newest first"
        columns={['Time', 'Actor', 'Action', 'Target', 'Outcome', 'Status', 'From']}
        live={follow}
      >
        {records.map((r) => (
          <tr key={r.id}>
            <td>{when(r.time)}</td>
            <td class="mono">{r.actor}</td>
            <td>{r.action}</td>
            <td>
              {r.target_kind ? `${r.target_kind} ` : ''}
              {r.target_name ?? ''}
            </td>
            <td>
              {r.outcome}
              {r.code ? ` (${r.code})` : ''}
            </td>
            <td>{r.status}</td>
            <td>
              {r.listener ?? ''} {r.client_address ?? ''}
            </td>
          </tr>
        ))}
      </Table>
      {records.length === 0 && !action.busy && <p>No records match.</p>}
      {next && (
        <button type="button" class="secondary" disabled={action.busy} onClick={older}>
          Older records
        </button>
      )}
    </>
  );
}
