// `npm run bench`: the same upstream reached through a minimal Node proxy (the reference),
// through Caddy (reverse_proxy + basicauth, when installed) and through the gateway (public, API
// key, Basic, inference key), measured in one run; prints requests/s, p50/p99, × the reference and
// the CPU microseconds per request of the proxying process (from /proc/<pid>/stat), checks the
// gateway's memory while 1 GiB goes up and 1 GiB comes down, and writes bench/README.md.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { proxyConfig } from '../packages/modelgate/dist/dataplane/forward-auth/generators.js';
import { TrafficRing } from '../packages/modelgate/dist/kernel/traffic-ring.js';

const CLOCK_TICKS_PER_S = 100;
const hasWrk = spawnSync('wrk', ['--version']).error === undefined;
const hasCaddy = spawnSync('caddy', ['version']).error === undefined;
const hasNginx = spawnSync('nginx', ['-v']).error === undefined;

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, '..', 'packages', 'modelgate', 'bin', 'modelgate.js');
const duration = Number(process.env.BENCH_DURATION ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const largeBytes = Number(process.env.BENCH_LARGE_BYTES ?? 1024 ** 3);
const ringRounds = Number(process.env.BENCH_RING_ROUNDS ?? 6);
const children = [];
const SETTLE_MIN_MS = 1000;
const SETTLE_MAX_MS = 5000;

/**
 * Starts a node process and resolves with the first stdout line matching `pattern`. With
 * `logFile`, stdout goes to that file (the gateway's log: a pipe to this process would fill up
 * while `wrk` blocks it, and the gateway would stall on a log nobody reads).
 */
function spawnJsonLine(args, { logFile, ...options }, pattern) {
  if (logFile) {
    const child = spawn(process.execPath, args, { ...options, stdio: ['ignore', openSync(logFile, 'w'), 'inherit'] });
    children.push(child);
    return new Promise((resolve, reject) => {
      const poll = setInterval(() => {
        const line = readFileSync(logFile, 'utf8')
          .split('\n')
          .find((l) => pattern.test(l));
        if (line === undefined) return;
        clearInterval(poll);
        resolve({ child, line: JSON.parse(line) });
      }, 50);
      child.on('exit', (code) => {
        clearInterval(poll);
        reject(new Error(`child exited with ${code}`));
      });
    });
  }
  const child = spawn(process.execPath, args, { ...options, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout.on('data', (c) => {
      buffer += c;
      for (const line of buffer.split('\n')) {
        if (pattern.test(line)) {
          child.stdout.removeAllListeners('data');
          child.stdout.resume();
          resolve({ child, line: JSON.parse(line) });
          return;
        }
      }
    });
    child.on('exit', (code) => reject(new Error(`child exited with ${code}`)));
  });
}

async function api(base, token, method, path, body) {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body && JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

/**
 * user+system CPU time so far of a process and its children (a multi-process gateway's workers),
 * in clock ticks (fields 14 and 15 of /proc/<pid>/stat).
 */
function cpuTicks(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  let ticks = Number(fields[11]) + Number(fields[12]);
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  for (const child of children ? children.split(' ') : []) ticks += cpuTicks(Number(child));
  return ticks;
}

/**
 * One measured window: load from wrk (or autocannon without it), CPU of `pid` (or of several
 * processes together: a proxy and the node it asks) over the same window.
 */
async function run(url, headers, pid, seconds = duration) {
  const pids = pid === undefined ? [] : [pid].flat();
  const ticksNow = () => pids.reduce((sum, p) => sum + cpuTicks(p), 0);
  const before = ticksNow();
  const result = hasWrk ? wrk(url, headers, seconds) : await cannon(url, headers, seconds);
  const ticks = pids.length > 0 ? ticksNow() - before : Number.NaN;
  return { ...result, cpuUs: (ticks * (1e6 / CLOCK_TICKS_PER_S)) / result.requests };
}

/** Aggregate CPU time of the machine so far, idle and total, in clock ticks (first line of /proc/stat). */
function machineTicks() {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const ticks = fields.map(Number);
  return { idle: ticks[3] + ticks[4], total: ticks.reduce((a, b) => a + b, 0) };
}

/**
 * The pause before every measured window, the same for every row: at least `SETTLE_MIN_MS`, then
 * until the machine was at least 90 % idle over 250 ms (at most `SETTLE_MAX_MS`). A proxy can keep
 * burning CPU after its load ends (Caddy's Go runtime finishing goroutines, GC and scavenging; a
 * gateway flushing access lines) and, on a machine with 2 cores, that work lands in the next row's
 * window: it slows the next process and inflates its CPU per request.
 */
async function settle() {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  await sleep(SETTLE_MIN_MS);
  for (let waited = 0; waited < SETTLE_MAX_MS; waited += 250) {
    const a = machineTicks();
    await sleep(250);
    const b = machineTicks();
    if (b.total > a.total && (b.idle - a.idle) / (b.total - a.total) >= 0.9) return;
  }
}

function wrk(url, headers, seconds) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', url];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  const out = execFileSync('wrk', args, { encoding: 'utf8' });
  if (/Non-2xx|Socket errors/.test(out)) throw new Error(`${url}: ${out}`);
  const ms = (label) => {
    const m = new RegExp(`${label}\\s+([\\d.]+)(us|ms|s)`).exec(out);
    return m ? Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]] : Number.NaN;
  };
  const requests = Number(/(\d+) requests in ([\d.]+)s/.exec(out)[1]);
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]), p50: ms('50%'), p99: ms('99%'), requests };
}

function cannon(url, headers, seconds) {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections, duration: seconds, headers, pipelining: 1 }, (err, result) => {
      if (err) return reject(err);
      if (result.non2xx > 0 || result.errors > 0) {
        return reject(new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`));
      }
      resolve({
        rps: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        requests: result.requests.total,
      });
    });
  });
}

/** Caddy 2 as a second reference: reverse_proxy behind basicauth (bcrypt, as Caddy requires). */
async function startCaddy(upstreamUrl, user, password) {
  const hash = execFileSync('caddy', ['hash-password', '--plaintext', password], { encoding: 'utf8' }).trim();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'modelgate-bench-caddy-'));
  const url = `http://127.0.0.1:${port}`;
  const config = `{\n\tadmin off\n\tauto_https off\n}\n:${port} {\n\tbasicauth {\n\t\t${user} ${hash}\n\t}\n\treverse_proxy ${new URL(upstreamUrl).host}\n}\n`;
  return { child: await startCaddyFile(dir, config, url), url };
}

/** nginx (from Debian) running `config`, with its pid and temporary files in `dir`. */
async function startNginx(dir, config, url) {
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, config);
  const child = spawn('nginx', ['-c', file, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  await waitUntilListening(url, 'nginx');
  return child;
}

/** Caddy running a Caddyfile in `dir`. */
async function startCaddyFile(dir, config, url) {
  const file = join(dir, 'Caddyfile');
  writeFileSync(file, config);
  const child = spawn('caddy', ['run', '--config', file, '--adapter', 'caddyfile'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir },
  });
  children.push(child);
  await waitUntilListening(url, 'caddy');
  return child;
}

async function waitUntilListening(url, name) {
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${name} did not start`);
}

/** A folder nginx's workers (an unprivileged user) can reach. */
function runDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

function freePort() {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function rssOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

function transfer(url, headers, method, bytes) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers }, (res) => {
      let n = 0;
      let text = '';
      res.on('data', (c) => {
        n += c.length;
        if (method === 'POST') text += c;
      });
      res.on('end', () => resolve(method === 'POST' ? JSON.parse(text).received : n));
    });
    req.on('error', reject);
    if (method === 'GET') return req.end();
    const chunk = Buffer.alloc(64 * 1024, 121);
    let left = bytes;
    const pump = () => {
      while (left > 0) {
        const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= part.length;
        if (!req.write(part)) return req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

const fmt = (n, d = 0) => n.toFixed(d);

/**
 * The traffic ring's own cost, in this process: CPU ns per `record()` (what the gateway calls once
 * per finished request), over 20 deployments, one request in ten refused, latencies 0.5–50 ms,
 * the clock moving a minute every 100 000 calls (so minutes are reset as in a long run).
 */
function ringRecordNs(calls = 5_000_000) {
  const ring = new TrafficRing();
  const names = Array.from({ length: 20 }, (_, i) => `deployment-${i}`);
  const start = Date.now();
  const pass = (n) => {
    for (let i = 0; i < n; i++) {
      ring.record(
        names[i % 20],
        i % 10 === 0 ? 'missing' : undefined,
        0.5 + (i % 100) / 2,
        start + Math.floor(i / 100_000) * 60_000,
      );
    }
  };
  pass(calls / 5); // warm-up: JIT, every minute allocated
  const before = process.cpuUsage();
  pass(calls);
  const used = process.cpuUsage(before);
  return ((used.user + used.system) * 1000) / calls;
}

async function main() {
  // Other work on the machine moves every figure: the report says how busy it was.
  const loadAtStart = loadavg()[0];
  const { line: up } = await spawnJsonLine([join(here, 'upstream.mjs')], {}, /"url"/);
  const { child: bareChild, line: bare } = await spawnJsonLine([join(here, 'bare-proxy.mjs'), up.url], {}, /"url"/);
  const cwd = mkdtempSync(join(tmpdir(), 'modelgate-bench-'));
  const ports = ['inference', 'management', 'metrics'].flatMap((l) => [`--${l}-address`, 'http://127.0.0.1:0']);
  const { child: gateway, line: urls } = await spawnJsonLine(
    [bin, 'start', ...ports],
    { cwd, logFile: join(cwd, 'modelgate.log') },
    /modelgate started/,
  );
  // The floor: what the gateway holds before any request (code, V8 heap, the node binary's pages).
  const fresh = rssOf(gateway.pid);
  const keys = JSON.parse(readFileSync(join(cwd, 'key_file.json'), 'utf8'));
  const token = keys.management.key;
  await api(urls.management, token, 'POST', '/secrets', { name: 'bench-password', value: 'bench-password-value' });
  await api(urls.management, token, 'POST', '/deployments', { name: 'pub', upstream: up.url, access: 'public' });
  const prot = await api(urls.management, token, 'POST', '/deployments', {
    name: 'prot',
    upstream: up.url,
    access: 'protected',
    auth: { basic_secret: 'bench-password', api_keys: true },
    api_keys: 1,
  });
  const apiKey = prot.api_keys[0].key;
  // The same deployment with a rate limit it never reaches (X3): the cost of one limit set.
  const limited = await api(urls.management, token, 'POST', '/deployments', {
    name: 'limited',
    upstream: up.url,
    access: 'protected',
    rate_limit: { requests: 1_000_000_000, per: 'hour' },
    api_keys: 1,
  });
  // The same gateway with two data-plane workers (and its primary), in its own directory.
  const cwd2 = mkdtempSync(join(tmpdir(), 'modelgate-bench-workers-'));
  const { child: cluster, line: urls2 } = await spawnJsonLine(
    [bin, 'start', '--workers', '2', ...ports],
    { cwd: cwd2, logFile: join(cwd2, 'modelgate.log') },
    /modelgate started/,
  );
  const token2 = JSON.parse(readFileSync(join(cwd2, 'key_file.json'), 'utf8')).management.key;
  const prot2 = await api(urls2.management, token2, 'POST', '/deployments', {
    name: 'prot',
    upstream: up.url,
    access: 'protected',
    api_keys: 1,
  });
  const basic = `Basic ${Buffer.from('modelgate:bench-password-value').toString('base64')}`;
  const { token: platformJwt } = await api(urls.management, token, 'POST', '/issue-jwt', { deployment: 'prot' });
  // Forward-auth: a node that trusts the proxies on loopback and lets them cache its decisions for
  // 5 s (the cached row), in its own directory so the rows above keep the default settings.
  const cwd3 = mkdtempSync(join(tmpdir(), 'modelgate-bench-forward-auth-'));
  const { child: deciding, line: urls3 } = await spawnJsonLine(
    [bin, 'start', '--trusted-proxies', '127.0.0.1/32', '--forward-auth-cache-s', '5', ...ports],
    { cwd: cwd3, logFile: join(cwd3, 'modelgate.log') },
    /modelgate started/,
  );
  const token3 = JSON.parse(readFileSync(join(cwd3, 'key_file.json'), 'utf8')).management.key;
  const prot3 = await api(urls3.management, token3, 'POST', '/deployments', {
    name: 'prot',
    upstream: up.url,
    access: 'protected',
    api_keys: 1,
  });
  const forwardAuthKey = { authorization: `Bearer ${prot3.api_keys[0].key}` };
  // The per-deployment traffic ring (issue 19), on and off: two fresh single-process nodes alike
  // but for `--traffic-counts`, each with one public deployment (the cheapest route, so the ring's
  // share of a request is the largest), measured in rounds of their own.
  const ringNodes = [];
  for (const on of [true, false]) {
    const dir = mkdtempSync(join(tmpdir(), `modelgate-bench-ring-${on ? 'on' : 'off'}-`));
    const { child, line } = await spawnJsonLine(
      [bin, 'start', `--traffic-counts=${on}`, ...ports],
      { cwd: dir, logFile: join(dir, 'modelgate.log') },
      /modelgate started/,
    );
    const ringToken = JSON.parse(readFileSync(join(dir, 'key_file.json'), 'utf8')).management.key;
    await api(line.management, ringToken, 'POST', '/deployments', { name: 'pub', upstream: up.url, access: 'public' });
    ringNodes.push({ on, child, url: `${line.inference}/pub/predict`, management: line.management, token: ringToken });
  }
  const nginxRows = [];
  if (hasNginx) {
    const alone = runDir('modelgate-bench-nginx-');
    const alonePort = await freePort();
    const aloneConfig = `worker_processes auto;\npid ${alone}/nginx.pid;\nerror_log stderr error;\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n  upstream model { server ${new URL(up.url).host}; keepalive 64; }\n  server {\n    listen 127.0.0.1:${alonePort};\n    location / { proxy_pass http://model; proxy_http_version 1.1; proxy_set_header Connection ""; }\n  }\n}\n`;
    const aloneUrl = `http://127.0.0.1:${alonePort}`;
    const nginxAlone = await startNginx(alone, aloneConfig, aloneUrl);
    nginxRows.push(['nginx alone (proxy_pass, keepalive, no auth)', `${aloneUrl}/predict`, {}, nginxAlone.pid]);
    for (const cache of [false, true]) {
      const dir = runDir('modelgate-bench-nginx-auth-');
      const listen = `127.0.0.1:${await freePort()}`;
      const config = proxyConfig('nginx', { listen, node: urls3.inference, runDir: dir, cache, upstreams: [up.url] });
      const child = await startNginx(dir, config, `http://${listen}/`);
      nginxRows.push([
        `nginx + auth_request → modelgate${cache ? ', decisions cached 5 s' : ''}, API key (CPU: nginx + node)`,
        `http://${listen}/prot/predict`,
        forwardAuthKey,
        [child.pid, deciding.pid],
      ]);
    }
  }

  // The large transfer runs first, on a gateway that has only just started.
  process.stderr.write(`bench: streaming ${largeBytes} bytes up and down through the gateway...\n`);
  const before = rssOf(gateway.pid);
  let peak = before.rss;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssOf(gateway.pid).rss);
  }, 100);
  const auth = { authorization: `Bearer ${apiKey}` };
  const t0 = Date.now();
  const uploaded = await transfer(
    `${urls.inference}/prot/sink`,
    { ...auth, 'content-length': largeBytes },
    'POST',
    largeBytes,
  );
  const downloaded = await transfer(`${urls.inference}/prot/bytes?n=${largeBytes}`, auth, 'GET', largeBytes);
  const seconds = (Date.now() - t0) / 1000;
  clearInterval(sampler);
  if (uploaded !== largeBytes || downloaded !== largeBytes) throw new Error('large transfer lost bytes');
  // The same download through the reference proxy (it forwards no request body, so no upload):
  // how much of the growth any Node proxy shows (read buffers, V8 growing its young generation).
  const bareBefore = rssOf(bareChild.pid).rss;
  let barePeak = bareBefore;
  const bareSampler = setInterval(() => {
    barePeak = Math.max(barePeak, rssOf(bareChild.pid).rss);
  }, 100);
  const bareDownloaded = await transfer(`${bare.url}/bytes?n=${largeBytes}`, {}, 'GET', largeBytes);
  clearInterval(bareSampler);
  if (bareDownloaded !== largeBytes) throw new Error('large transfer through the reference lost bytes');

  const basicHeader = { authorization: basic };
  // [name, url, headers, pid whose CPU is measured]
  const targets = [
    ['direct (no proxy)', `${up.url}/predict`, {}, undefined],
    ['minimal Node proxy (reference: node:http + undici Pool + pipe())', `${bare.url}/predict`, {}, bareChild.pid],
    ['modelgate, public deployment', `${urls.inference}/pub/predict`, {}, gateway.pid],
    [
      'modelgate, protected, API key',
      `${urls.inference}/prot/predict`,
      { authorization: `Bearer ${apiKey}` },
      gateway.pid,
    ],
    [
      'modelgate, protected, API key, rate limit set (never reached)',
      `${urls.inference}/limited/predict`,
      { authorization: `Bearer ${limited.api_keys[0].key}` },
      gateway.pid,
    ],
    ['modelgate, protected, Basic', `${urls.inference}/prot/predict`, basicHeader, gateway.pid],
    [
      'modelgate, protected, inference key',
      `${urls.inference}/prot/predict`,
      { authorization: `Bearer ${keys.inference.key}` },
      gateway.pid,
    ],
    [
      'modelgate, protected by platform JWT',
      `${urls.inference}/prot/predict`,
      { authorization: `Bearer ${platformJwt}` },
      gateway.pid,
    ],
    [
      'modelgate workers=2, protected, API key (CPU: primary + workers)',
      `${urls2.inference}/prot/predict`,
      { authorization: `Bearer ${prot2.api_keys[0].key}` },
      cluster.pid,
    ],
    ...nginxRows,
  ];
  // Warm up every route (JIT, connection pools, credential caches).
  // One request first, so a Basic password is checked once (scrypt) before 32 arrive at a time.
  for (const [, url, headers] of targets) await (await fetch(url, { headers })).text();
  for (const [, url, headers] of targets) await run(url, headers, undefined, 2);
  // Interleaved rounds, median per route: one noisy moment on a shared machine moves one sample.
  const samples = targets.map(() => []);
  for (let round = 1; round <= rounds; round++) {
    for (const [i, [name, url, headers, pid]] of targets.entries()) {
      await settle();
      process.stderr.write(`bench: round ${round}/${rounds}, ${name}, ${duration}s at ${connections} connections\n`);
      samples[i].push(await run(url, headers, pid));
    }
  }
  // The traffic ring on and off, in rounds of their own (after the shared rounds, before Caddy,
  // whose leftover work slows the row after it), the order swapped every round so a drift of the
  // machine falls on both alike.
  const ringNames = (on) => `modelgate, public deployment, traffic ring ${on ? 'on' : 'off'} (own node, A/B rounds)`;
  for (const node of ringNodes) {
    await (await fetch(node.url)).text();
    await run(node.url, {}, undefined, 2);
  }
  const ringSamples = new Map(ringNodes.map((n) => [n.on, []]));
  for (let round = 1; round <= ringRounds; round++) {
    const order = round % 2 === 1 ? ringNodes : [...ringNodes].reverse();
    for (const node of order) {
      await settle();
      process.stderr.write(`bench: ring round ${round}/${ringRounds}, ${ringNames(node.on)}\n`);
      ringSamples.get(node.on).push(await run(node.url, {}, node.child.pid));
    }
  }
  // The switch really switches: the node with the ring counted the load, the other nothing.
  for (const node of ringNodes) {
    const { minutes } = await api(node.management, node.token, 'GET', '/deployments/pub/traffic');
    const counted = minutes.reduce((n, m) => n + m.requests, 0);
    if (node.on !== counted > 0) throw new Error(`traffic ring ${node.on ? 'on' : 'off'} counted ${counted} requests`);
  }
  for (const node of ringNodes) {
    targets.push([ringNames(node.on), node.url, {}, node.child.pid]);
    samples.push(ringSamples.get(node.on));
  }
  const recordNs = ringRecordNs();

  // Caddy last, in rounds of its own, then stopped: the row right after Caddy's load (the public
  // deployment) cost ~70 % more CPU per request through all its rounds, however idle the settle
  // found the CPUs, and was the cheapest gateway row in a run without Caddy. Not isolated further.
  const caddyName = 'Caddy 2 reverse_proxy + basicauth';
  if (hasCaddy) {
    const caddy = await startCaddy(up.url, 'modelgate', 'bench-password-value');
    const url = `${caddy.url}/predict`;
    await (await fetch(url, { headers: basicHeader })).text();
    await run(url, basicHeader, undefined, 2);
    const caddySamples = [];
    for (let round = 1; round <= rounds; round++) {
      await settle();
      process.stderr.write(
        `bench: round ${round}/${rounds}, ${caddyName}, ${duration}s at ${connections} connections\n`,
      );
      caddySamples.push(await run(url, basicHeader, caddy.child.pid));
    }
    caddy.child.kill('SIGTERM');
    // Caddy forward_auth asking the node, in rounds of its own too.
    const forwardName = 'Caddy forward_auth → modelgate, API key (CPU: Caddy + node)';
    const dir = mkdtempSync(join(tmpdir(), 'modelgate-bench-caddy-auth-'));
    const listen = `127.0.0.1:${await freePort()}`;
    const asking = await startCaddyFile(
      dir,
      proxyConfig('caddy', { listen, node: urls3.inference }),
      `http://${listen}/`,
    );
    const forwardUrl = `http://${listen}/prot/predict`;
    await (await fetch(forwardUrl, { headers: forwardAuthKey })).text();
    await run(forwardUrl, forwardAuthKey, undefined, 2);
    const forwardSamples = [];
    for (let round = 1; round <= rounds; round++) {
      await settle();
      process.stderr.write(
        `bench: round ${round}/${rounds}, ${forwardName}, ${duration}s at ${connections} connections\n`,
      );
      forwardSamples.push(await run(forwardUrl, forwardAuthKey, [asking.pid, deciding.pid]));
    }
    asking.kill('SIGTERM');
    // Listed right after the reference, as before; forward_auth with the other forward-auth rows.
    targets.splice(2, 0, [caddyName, url, basicHeader, caddy.child.pid]);
    samples.splice(2, 0, caddySamples);
    targets.push([forwardName, forwardUrl, forwardAuthKey, asking.pid]);
    samples.push(forwardSamples);
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const results = targets.map(([name], i) => ({
    name,
    rps: median(samples[i].map((s) => s.rps)),
    p50: median(samples[i].map((s) => s.p50)),
    p99: median(samples[i].map((s) => s.p99)),
    cpuUs: median(samples[i].map((s) => s.cpuUs)),
  }));
  const reference = results[1];
  const pub = results.find((r) => r.name === 'modelgate, public deployment');
  const cell = (n, d) => (Number.isFinite(n) ? fmt(n, d) : '–');
  const table = [
    '| route | requests/s | p50 ms | p99 ms | × reference (req/s) | CPU µs/request | × reference (CPU) | × public (req/s) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...results.map(
      (r) =>
        `| ${r.name} | ${fmt(r.rps)} | ${cell(r.p50, 2)} | ${cell(r.p99, 2)} | ${fmt(r.rps / reference.rps, 2)} | ${cell(r.cpuUs, 0)} | ${cell(r.cpuUs / reference.cpuUs, 2)} | ${r.name.startsWith('modelgate') ? fmt(r.rps / pub.rps, 2) : '–'} |`,
    ),
  ].join('\n');
  // Issue 21's targets, as ratios of this run's rows.
  const row = (prefix) => results.find((r) => r.name.startsWith(prefix));
  const nginxAlone = row('nginx alone');
  const nginxAuth = row('nginx + auth_request → modelgate, API key');
  const nginxCached = row('nginx + auth_request → modelgate, decisions cached');
  const caddyBasic = row('Caddy 2 reverse_proxy + basicauth');
  const forwardTargets = !nginxAuth
    ? 'nginx is not installed, so there are no forward-auth rows (`apt-get install -y nginx-light` adds them).'
    : [
        'Forward-auth targets (issue 21), requests/s in this run:',
        '',
        '| target | result |',
        '|---|---|',
        `| nginx + modelgate decision ≥ 1.0 × the minimal Node proxy | ${fmt(nginxAuth.rps / reference.rps, 2)} × |`,
        caddyBasic
          ? `| nginx + modelgate decision ≥ 1.2 × Caddy basicauth | ${fmt(nginxAuth.rps / caddyBasic.rps, 2)} × |`
          : '| nginx + modelgate decision ≥ 1.2 × Caddy basicauth | (Caddy not installed) |',
        `| with the decision cache ≥ 0.8 × nginx alone | ${fmt(nginxCached.rps / nginxAlone.rps, 2)} × |`,
      ].join('\n');
  const spread = (rounds) => {
    const us = rounds.map((r) => r.cpuUs).sort((a, b) => a - b);
    return `${fmt(us[0], 1)}–${fmt(us.at(-1), 1)}`;
  };
  const ringOn = row('modelgate, public deployment, traffic ring on');
  const ringOff = row('modelgate, public deployment, traffic ring off');
  const ringReport = [
    `Traffic ring (issue 19: the per-deployment last hour behind the console's chart, \`kernel/traffic-ring.ts\`, one \`record()\` per finished request on the data plane), on vs off: two fresh nodes alike but for \`--traffic-counts\`, one public deployment each, ${ringRounds} rounds of their own (${duration} s each, the order swapped every round), medians:`,
    '',
    '| traffic ring | requests/s | CPU µs/request | CPU µs/request, each round (lowest–highest) |',
    '|---|---:|---:|---|',
    `| on (default) | ${fmt(ringOn.rps)} | ${fmt(ringOn.cpuUs, 1)} | ${spread(ringSamples.get(true))} |`,
    `| off (\`traffic_counts: false\`) | ${fmt(ringOff.rps)} | ${fmt(ringOff.cpuUs, 1)} | ${spread(ringSamples.get(false))} |`,
    `| on / off | ${fmt(ringOn.rps / ringOff.rps, 3)} × | ${fmt(ringOn.cpuUs / ringOff.cpuUs, 3)} × (${ringOn.cpuUs >= ringOff.cpuUs ? '+' : ''}${fmt(ringOn.cpuUs - ringOff.cpuUs, 1)} µs) | |`,
    '',
    `\`record()\` alone, in a loop in the bench process: ${fmt(recordNs, 0)} ns of CPU per call, ${fmt((recordNs / 1000 / ringOn.cpuUs) * 100, 2)} % of the gateway's CPU per public request in this run.`,
  ].join('\n');
  const large = `Large transfer: ${fmt(largeBytes / 1024 ** 3, 2)} GiB up and ${fmt(largeBytes / 1024 ** 3, 2)} GiB down through a protected deployment in ${fmt(seconds, 1)} s; gateway RSS ${fmt(fresh.rss)} MB just after start, ${fmt(before.rss)} MB before the transfer, ${fmt(peak)} MB peak during it. The reference proxy, for the same download (it forwards no upload): ${fmt(bareBefore)} MB before, ${fmt(barePeak)} MB peak.`;
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${fmt(totalmem() / 1024 ** 3)} GiB RAM, Node ${process.version}; 1-minute load average ${fmt(loadAtStart, 1)} at the start, ${fmt(loadavg()[0], 1)} at the end`;
  const loader = hasWrk ? `wrk -t1 -c${connections}` : `autocannon, ${connections} connections`;
  const report = `# Benchmarks

Produced by \`npm run bench\` (bench/run.mjs) on ${new Date().toISOString().slice(0, 10)}: ${machine}.
Every figure comes from one run: the upstream (bench/upstream.mjs, a fixed small JSON answer), the
reference proxies and the gateway (\`modelgate start\`, default settings, SQLite, info-level access
log on, written to a file) are separate processes; the load comes from ${loader}; each route is measured ${rounds} times for
${duration} s, rounds interleaved, and the median is reported. Before every measured window the
bench waits until the machine is quiet again (at least 1 s, then until the CPUs are ≥ 90 % idle, at
most 5 s): a proxy's leftover work after its load (Caddy's Go runtime, say) would otherwise be
charged to the next row.

The reference is the least a Node proxy can do (bench/bare-proxy.mjs: node:http, one undici Pool,
\`pipe()\`; no routing, authentication, header rewriting or logging). \`× reference\` compares each
row with it in the same run. **CPU µs/request** is the user+system CPU time of the proxying process
(from \`/proc/<pid>/stat\`) over the measured window divided by the requests served: on a shared
machine it is much steadier than requests/s, which moves with whatever else runs.
${hasCaddy ? 'The Caddy row is Caddy 2 `reverse_proxy` behind `basicauth` (bcrypt), default settings (no access log), measured after the other rows in rounds of its own (the row that followed it in the interleaved rounds ran ~70 % more expensive).' : 'Caddy was not installed, so there is no Caddy row (`apt-get install -y caddy` adds it).'}

${table}

${forwardTargets}

${ringReport}

${large}

Targets (issue 9): protected routes ≥ 0.75 × the reference, public ≥ 0.80 ×, protected ≥ 0.95 × public;
gateway CPU per protected request ≤ 1.5 × the reference's; gateway RSS ≤ 150 MB while proxying 1 GiB
up and 1 GiB down.
Environment knobs: \`BENCH_DURATION\` (s per round), \`BENCH_ROUNDS\`, \`BENCH_RING_ROUNDS\`, \`BENCH_CONNECTIONS\`, \`BENCH_LARGE_BYTES\`.
`;
  writeFileSync(join(here, 'README.md'), report);
  // The repository's formatter owns Markdown too (`npm test` runs `biome check`): pad the table.
  spawnSync('npx', ['biome', 'format', '--write', join(here, 'README.md')], { stdio: 'ignore' });
  process.stdout.write(`${table}\n\n${forwardTargets}\n\n${ringReport}\n\n${large}\n`);
}

main()
  .catch((err) => {
    process.stderr.write(`bench failed: ${err.stack ?? err}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const c of children) c.kill('SIGTERM');
  });
