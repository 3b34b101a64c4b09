import type { components } from '@modelgate/client';
import type { JSX } from 'preact';
import { useEffect } from 'preact/hooks';
import { useSession } from '../session';
import { Table } from '../tables';
import { Problem, Section, useLoad } from '../ui';

type Minute = components['schemas']['DeploymentTraffic']['minutes'][number];

const W = 720;
const H = 200;
const PAD = { left: 44, right: 64, top: 10, bottom: 24 };
const REFRESH_MS = 10_000;

const refusedOf = (m: Minute) => Object.values(m.refused).reduce((a, b) => a + b, 0);

/** A deployment's last hour, minute by minute (`GET /deployments/{name}/traffic`). */
export function useTraffic(name: string) {
  const { client } = useSession();
  return useLoad(() => client.request('get', '/api/v1/deployments/{name}/traffic', { params: { name } }), [name]);
}

/** The hour's totals: requests and refused. */
export function totalsOf(minutes: readonly Minute[]): { requests: number; refused: number } {
  return minutes.reduce((t, m) => ({ requests: t.requests + m.requests, refused: t.refused + refusedOf(m) }), {
    requests: 0,
    refused: 0,
  });
}

/**
 * Requests (bars; the refused part in red), p50 and p99 latency (lines, right axis) per minute
 * over the last hour, refreshed every ten seconds; the same numbers as a table for screen readers
 * and copying.
 */
export function DeploymentChart(props: { name: string }): JSX.Element {
  const traffic = useTraffic(props.name);
  useEffect(() => {
    const timer = setInterval(traffic.reload, REFRESH_MS);
    return () => clearInterval(timer);
  }, [traffic.reload]);
  const minutes = traffic.data?.minutes ?? [];
  const totals = totalsOf(minutes);
  const reasons = new Map<string, number>();
  for (const m of minutes) for (const [r, n] of Object.entries(m.refused)) reasons.set(r, (reasons.get(r) ?? 0) + n);
  const busy = minutes.filter((m) => m.requests > 0);
  return (
    <Section id="traffic" title="Last hour">
      <Problem error={traffic.error} />
      <p data-testid="traffic-totals">
        {totals.requests} requests, {totals.refused} refused
        {reasons.size > 0 &&
          ` (${[...reasons]
            .sort((a, b) => b[1] - a[1])
            .map(([r, n]) => `${r}: ${n}`)
            .join(', ')})`}
        .
      </p>
      {minutes.length > 0 && <Chart minutes={minutes} />}
      <ul class="legend" aria-hidden="true">
        <li>
          <span class="swatch served" /> served
        </li>
        <li>
          <span class="swatch refused" /> refused
        </li>
        <li>
          <span class="swatch p50" /> p50 ms
        </li>
        <li>
          <span class="swatch p99" /> p99 ms
        </li>
      </ul>
      <details>
        <summary>Minutes with requests, as a table</summary>
        <Table caption="Requests per minute" columns={['Minute', 'Requests', 'Refused', 'p50 ms', 'p99 ms']}>
          {busy.map((m) => (
            <tr key={m.start}>
              <td>{new Date(m.start).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })}</td>
              <td>{m.requests}</td>
              <td>{refusedOf(m)}</td>
              <td>{m.p50_ms ?? ''}</td>
              <td>{m.p99_ms ?? ''}</td>
            </tr>
          ))}
        </Table>
      </details>
    </Section>
  );
}

function Chart(props: { minutes: readonly Minute[] }): JSX.Element {
  const { minutes } = props;
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const maxReq = Math.max(1, ...minutes.map((m) => m.requests));
  const maxMs = Math.max(1, ...minutes.map((m) => m.p99_ms ?? 0));
  const step = plotW / minutes.length;
  const x = (i: number) => PAD.left + i * step;
  const yReq = (n: number) => PAD.top + plotH - (n / maxReq) * plotH;
  const yMs = (ms: number) => PAD.top + plotH - (ms / maxMs) * plotH;
  const line = (pick: (m: Minute) => number | null) =>
    minutes
      .map((m, i) => [i, pick(m)] as const)
      .filter(([, v]) => v !== null)
      .map(([i, v]) => `${x(i) + step / 2},${yMs(v!)}`)
      .join(' ');
  const totals = totalsOf(minutes);
  return (
    <svg
      class="chart"
      viewBox={`0 0 ${W} ${H}`}
      role="img"
      aria-label={`Requests per minute over the last hour: ${totals.requests} in all, ${totals.refused} refused; busiest minute ${maxReq}; p99 up to ${maxMs} ms`}
    >
      <line class="axis" x1={PAD.left} y1={PAD.top + plotH} x2={W - PAD.right} y2={PAD.top + plotH} />
      <text class="tick" x={PAD.left - 6} y={PAD.top + 8} text-anchor="end">
        {maxReq}
      </text>
      <text class="tick" x={PAD.left - 6} y={PAD.top + plotH} text-anchor="end">
        0
      </text>
      <text class="tick" x={W - 4} y={PAD.top + 8} text-anchor="end">
        {maxMs} ms
      </text>
      <text class="tick" x={PAD.left} y={H - 6}>
        −60 min
      </text>
      <text class="tick" x={W - PAD.right} y={H - 6} text-anchor="end">
        now
      </text>
      {minutes.map((m, i) => {
        const refused = refusedOf(m);
        const served = m.requests - refused;
        return (
          <g key={m.start}>
            {served > 0 && (
              <rect
                class="bar served"
                x={x(i) + 1}
                y={yReq(m.requests)}
                width={step - 2}
                height={yReq(refused) - yReq(m.requests)}
              />
            )}
            {refused > 0 && (
              <rect
                class="bar refused"
                x={x(i) + 1}
                y={yReq(refused)}
                width={step - 2}
                height={PAD.top + plotH - yReq(refused)}
              />
            )}
          </g>
        );
      })}
      <polyline class="p50" points={line((m) => m.p50_ms)} />
      <polyline class="p99" points={line((m) => m.p99_ms)} />
    </svg>
  );
}
