// `npm run bench`: the same upstream reached directly and through the gateway (public, API key,
// Basic, inference key), measured in one run; prints requests/s, p50/p99 and ratios, checks the
// gateway's memory while 1 GiB goes up and 1 GiB comes down, and writes bench/README.md.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, '..', 'packages', 'modelgate', 'bin', 'modelgate.js');
const duration = Number(process.env.BENCH_DURATION ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const largeBytes = Number(process.env.BENCH_LARGE_BYTES ?? 1024 ** 3);
const children = [];

function spawnJsonLine(args, options, pattern) {
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

function run(url, headers) {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections, duration, headers, pipelining: 1 }, (err, result) => {
      if (err) return reject(err);
      if (result.non2xx > 0 || result.errors > 0) {
        return reject(new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`));
      }
      resolve({ rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 });
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

async function main() {
  const { line: up } = await spawnJsonLine([join(here, 'upstream.mjs')], {}, /"url"/);
  const { line: bare } = await spawnJsonLine([join(here, 'bare-proxy.mjs'), up.url], {}, /"url"/);
  const cwd = mkdtempSync(join(tmpdir(), 'modelgate-bench-'));
  const ports = ['inference', 'management', 'metrics'].flatMap((l) => [`--${l}-address`, 'http://127.0.0.1:0']);
  const { child: gateway, line: urls } = await spawnJsonLine([bin, 'start', ...ports], { cwd }, /modelgate started/);
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
  const basic = `Basic ${Buffer.from('modelgate:bench-password-value').toString('base64')}`;
  const { token: platformJwt } = await api(urls.management, token, 'POST', '/issue-jwt', { deployment: 'prot' });

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

  const targets = [
    ['direct (no gateway)', `${up.url}/predict`, {}],
    ['bare undici proxy (reference, not modelgate)', `${bare.url}/predict`, {}],
    ['public deployment', `${urls.inference}/pub/predict`, {}],
    ['protected, API key', `${urls.inference}/prot/predict`, { authorization: `Bearer ${apiKey}` }],
    ['protected, Basic', `${urls.inference}/prot/predict`, { authorization: basic }],
    ['protected, inference key', `${urls.inference}/prot/predict`, { authorization: `Bearer ${keys.inference.key}` }],
    ['protected by platform JWT', `${urls.inference}/prot/predict`, { authorization: `Bearer ${platformJwt}` }],
  ];
  // Warm up every route (JIT, connection pools, credential caches).
  for (const [, url, headers] of targets) await fetch(url, { headers });
  // Interleaved rounds, median per route: one noisy moment on a shared machine moves one sample.
  const samples = targets.map(() => []);
  for (let round = 1; round <= rounds; round++) {
    for (const [i, [name, url, headers]] of targets.entries()) {
      process.stderr.write(`bench: round ${round}/${rounds}, ${name}, ${duration}s at ${connections} connections\n`);
      samples[i].push(await run(url, headers));
    }
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const results = targets.map(([name], i) => ({
    name,
    rps: median(samples[i].map((s) => s.rps)),
    p50: median(samples[i].map((s) => s.p50)),
    p99: median(samples[i].map((s) => s.p99)),
  }));
  const direct = results[0];
  const pub = results[2];
  const rows = results.map((r) => ({
    ...r,
    vsPublic: r.rps / pub.rps,
    vsDirect: r.rps / direct.rps,
    addedP99: r.p99 - direct.p99,
  }));

  const table = [
    '| route | requests/s | p50 ms | p99 ms | × public | × direct | p99 added over direct (ms) |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${fmt(r.rps)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(r.vsPublic, 2)} | ${fmt(r.vsDirect, 2)} | ${fmt(r.addedP99, 2)} |`,
    ),
  ].join('\n');
  const large = `Large transfer: ${fmt(largeBytes / 1024 ** 3, 2)} GiB up and ${fmt(largeBytes / 1024 ** 3, 2)} GiB down through a protected deployment in ${fmt(seconds, 1)} s; gateway RSS ${fmt(before.rss)} MB before, ${fmt(peak)} MB peak during the transfer.`;
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${fmt(totalmem() / 1024 ** 3)} GiB RAM, Node ${process.version}`;
  const report = `# Benchmarks

Produced by \`npm run bench\` (bench/run.mjs) on ${new Date().toISOString().slice(0, 10)}: ${machine}.
Every figure comes from one run: the upstream (bench/upstream.mjs, a fixed small JSON answer) and the
gateway (\`modelgate start\`, default settings, SQLite, info-level access log) are separate processes;
autocannon runs in a third, ${connections} connections; each route is measured ${rounds} times for
${duration} s, rounds interleaved, and the median is reported.
Ratios are against the public route and against the upstream reached directly in the same run.
The "bare undici proxy" row is a reference: the cheapest possible Node proxy hop (bench/bare-proxy.mjs,
no routing, auth, header rewriting or logging) on the same machine, to separate the cost of a proxy
hop on this machine from the cost of modelgate's own work.

${table}

${large}

Targets (issue 4): protected routes ≥ 0.90 × public throughput; p99 added over direct ≤ 2 ms at 32
connections; gateway RSS under 150 MB while proxying 1 GiB up and down.
Environment knobs: \`BENCH_DURATION\` (s per round), \`BENCH_ROUNDS\`, \`BENCH_CONNECTIONS\`, \`BENCH_LARGE_BYTES\`.
`;
  writeFileSync(join(here, 'README.md'), report);
  process.stdout.write(`${table}\n\n${large}\n`);
}

main()
  .catch((err) => {
    process.stderr.write(`bench failed: ${err.stack ?? err}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const c of children) c.kill('SIGTERM');
  });
