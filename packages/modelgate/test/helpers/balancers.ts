import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, tempDir } from './node-process.js';
import { type ListeningProcess, runListening } from './proxies.js';

/** The balancers the README documents in front of several replicas. */
export type BalancerKind = 'haproxy' | 'nginx';

/** The documented configurations: the README shows these files verbatim, and tests run them. */
export const BALANCER_FILES: Readonly<Record<BalancerKind, string>> = {
  haproxy: 'examples/balancers/haproxy.cfg',
  nginx: 'examples/balancers/nginx.conf',
};

const REPO = join(import.meta.dirname, '../../../..');

/** The text of a documented balancer configuration. */
export function documentedBalancer(kind: BalancerKind): string {
  return readFileSync(join(REPO, BALANCER_FILES[kind]), 'utf8');
}

/** The addresses the documented files use, which a test swaps for its own (and nothing else). */
const LISTEN: Readonly<Record<BalancerKind, (address: string) => string>> = {
  haproxy: (address) => `bind ${address}`,
  nginx: (address) => `listen ${address};`,
};
const DOCUMENTED_LISTEN = { haproxy: ':8080', nginx: '8080' } as const;
const DOCUMENTED_REPLICAS = ['10.0.0.1:8080', '10.0.0.2:8080', '10.0.0.3:8080'] as const;

/** Replaces `from` in `text` by `to`; throws unless `from` occurs exactly once. */
function swapOnce(text: string, from: string, to: string): string {
  const count = text.split(from).length - 1;
  if (count !== 1) throw new Error(`expected "${from}" once in the balancer configuration, found it ${count} times`);
  return text.replace(from, to);
}

/**
 * A balancer configuration with the documented listen address and the three documented replica
 * addresses replaced by `listen` and `replicas` (`host:port` each); every other byte is kept.
 */
export function placeAddresses(kind: BalancerKind, text: string, listen: string, replicas: readonly string[]): string {
  if (replicas.length !== DOCUMENTED_REPLICAS.length) throw new Error('the documented balancers name three replicas');
  let out = swapOnce(text, LISTEN[kind](DOCUMENTED_LISTEN[kind]), LISTEN[kind](listen));
  DOCUMENTED_REPLICAS.forEach((documented, i) => {
    out = swapOnce(out, documented, replicas[i] as string);
  });
  return out;
}

/**
 * `text` without the lines that start with one of `directives` (after indentation); throws
 * unless each is there exactly once, so a test cannot silently remove nothing.
 */
export function withoutDirectives(text: string, directives: readonly string[]): string {
  const lines = text.split('\n');
  for (const directive of directives) {
    const found = lines.filter((line) => line.trimStart().startsWith(`${directive} `)).length;
    if (found !== 1) throw new Error(`expected one "${directive}" line, found ${found}`);
  }
  return lines.filter((line) => !directives.some((d) => line.trimStart().startsWith(`${d} `))).join('\n');
}

/** A running balancer and the configuration it was given. */
export type RunningBalancer = ListeningProcess & { readonly config: string };

/**
 * Runs haproxy or nginx (from Debian) in the foreground with `text` (a documented configuration,
 * or one derived from it) in front of `replicas` (`host:port` each), on a free port.
 * nginx gets the text inside a minimal `http {}` whose pid and temporary files stay in a folder
 * of its own; haproxy gets the text as its whole configuration.
 */
export async function startBalancer(
  kind: BalancerKind,
  text: string,
  replicas: readonly string[],
): Promise<RunningBalancer> {
  const dir = tempDir(`modelgate-${kind}-`);
  // nginx's workers run as an unprivileged user: they must reach the folders nginx makes here.
  chmodSync(dir, 0o755);
  const listen = `127.0.0.1:${await freePort()}`;
  const config = placeAddresses(kind, text, listen, replicas);
  if (kind === 'haproxy') {
    const file = join(dir, 'haproxy.cfg');
    writeFileSync(file, config);
    return { ...(await runListening('haproxy', ['-db', '-f', file], listen)), config };
  }
  writeFileSync(join(dir, 'balancer.conf'), config);
  const main = join(dir, 'nginx.conf');
  writeFileSync(
    main,
    `worker_processes 2;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  include ${dir}/balancer.conf;
}
`,
  );
  return { ...(await runListening('nginx', ['-c', main, '-g', 'daemon off;'], listen)), config };
}

/**
 * Whether the balancer's output says it took a replica out: haproxy's server `name` (its health
 * check failed), nginx's server at `address` (`host:port`; a failed request counted for max_fails).
 */
export function takenOut(kind: BalancerKind, output: string, name: string, address: string): boolean {
  // haproxy: "Server replicas/r2 is DOWN, reason: Layer4 connection problem ...";
  // nginx: "upstream server temporarily disabled while connecting to upstream, ... upstream:
  // "http://127.0.0.1:port/...".
  if (kind === 'haproxy') return output.includes(`Server replicas/${name} is DOWN`);
  return output
    .split('\n')
    .some((line) => line.includes('upstream server temporarily disabled') && line.includes(`//${address}/`));
}
