import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { EPHEMERAL_PORTS, type NodeProcess, runCliToEnd, startNodeProcess, tempDir } from './helpers/node-process.js';

/**
 * Safety rails of `modelgate start` (issue 10), on real child processes: one node per key file
 * (a second start in the same directory exits 1 and the first keeps its keys), and SIGHUP
 * reloads the log level and the TLS certificate without stopping the node.
 */

const started: NodeProcess[] = [];
afterEach(async () => {
  for (const node of started.splice(0)) await node.stop();
});

async function start(args: string[] = [], cwd?: string): Promise<NodeProcess> {
  const node = await startNodeProcess(args, cwd ? { cwd } : {});
  started.push(node);
  return node;
}

async function whoami(node: NodeProcess, key: string): Promise<number> {
  const res = await fetch(`${node.urls.management}/api/v1/whoami`, { headers: { authorization: `Bearer ${key}` } });
  await res.arrayBuffer();
  return res.status;
}

describe('one node per key file', () => {
  it('a second start in the same directory exits 1 naming the first pid; the first keeps working, its key file intact', async () => {
    const first = await start();
    const keyFile = join(first.cwd, 'key_file.json');
    const before = readFileSync(keyFile, 'utf8');
    const keys = JSON.parse(before);

    const second = await runCliToEnd(['start', ...EPHEMERAL_PORTS], { cwd: first.cwd });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`another modelgate node (pid ${first.child.pid})`);
    expect(second.stderr).toContain('[NODE_RUNNING]');
    expect(second.all).not.toContain('modelgate started');

    expect(readFileSync(keyFile, 'utf8')).toBe(before);
    expect(await whoami(first, keys.management.key)).toBe(200);
    const model = await fetch(`${first.urls.inference}/_health/ready`);
    expect(model.status).toBe(200);

    expect(await first.stop()).toBe(0);
    expect(existsSync(keyFile)).toBe(false);
    expect(existsSync(`${keyFile}.lock`)).toBe(false);
  });

  it('a stale lock left by a crashed node is taken over', async () => {
    const dir = tempDir();
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    expect(dead).toBeGreaterThan(0);
    writeFileSync(join(dir, 'key_file.json.lock'), `${dead}\n`);
    const node = await start([], dir);
    expect(readFileSync(join(dir, 'key_file.json.lock'), 'utf8').trim()).toBe(String(node.child.pid));
    const keys = JSON.parse(readFileSync(join(dir, 'key_file.json'), 'utf8'));
    expect(await whoami(node, keys.management.key)).toBe(200);
  });

  it('a torn lock file (no pid in it) is taken over too', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'key_file.json.lock'), '');
    const node = await start([], dir);
    expect(readFileSync(join(dir, 'key_file.json.lock'), 'utf8').trim()).toBe(String(node.child.pid));
  });
});

/** A self-signed certificate and key for 127.0.0.1, as PEM files in `dir`; returns its fingerprint. */
function makeCertificate(dir: string, name: string): string {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  return new X509Certificate(readFileSync(join(dir, 'cert.pem'))).fingerprint256;
}

/** A node whose inference listener is https, with `cert.pem` and `key.pem` of `dir`. */
function startTls(dir: string): Promise<NodeProcess> {
  const files = ['--certificate-file', join(dir, 'cert.pem'), '--private-key-file', join(dir, 'key.pem')];
  return start(['--inference-address', 'https://127.0.0.1:0', ...files], dir);
}

/** The fingerprint of the certificate a TLS listener serves on a new connection. */
function servedFingerprint(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), rejectUnauthorized: false }, () => {
      resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? '');
      socket.end();
    });
    socket.on('error', reject);
  });
}

describe('SIGHUP', () => {
  it('never kills the node, and applies a new log level to every listener', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'modelgate.yaml'), 'log_level: info\n');
    const node = await start([], dir);
    const request = (id: string) => fetch(`${node.urls.inference}/missing/x`, { headers: { 'x-request-id': id } });

    await (await request('before-reload')).arrayBuffer();
    await node.waitFor(/"request_id":"before-reload"/);

    writeFileSync(join(dir, 'modelgate.yaml'), 'log_level: warn\n');
    node.child.kill('SIGHUP');
    // The reload announces itself at the more verbose of the old and new levels.
    await node.waitFor(/"log_level":"warn".*configuration reloaded/);
    await (await request('at-warn')).arrayBuffer();
    writeFileSync(join(dir, 'modelgate.yaml'), 'log_level: info\n');
    node.child.kill('SIGHUP');
    await node.waitFor(/"log_level":"info".*configuration reloaded/);
    await (await request('back-at-info')).arrayBuffer();
    await node.waitFor(/"request_id":"back-at-info"/);
    // The inference listener's access line was silenced at warn and is back at info.
    expect(node.output()).not.toContain('"request_id":"at-warn"');

    expect(node.child.exitCode).toBe(null);
    expect((await fetch(`${node.urls.management}/_health/live`)).status).toBe(200);
  });

  it('an invalid configuration on reload is logged and changes nothing', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'modelgate.yaml'), 'log_level: info\n');
    const node = await start([], dir);
    writeFileSync(join(dir, 'modelgate.yaml'), 'log_level: loud\n');
    node.child.kill('SIGHUP');
    await node.waitFor(/reload failed: configuration invalid/);
    expect((await fetch(`${node.urls.inference}/_health/live`)).status).toBe(200);
  });

  it('with TLS, a replaced certificate is served after SIGHUP', async () => {
    const dir = tempDir();
    const first = makeCertificate(dir, 'first');
    const node = await startTls(dir);
    expect(node.urls.inference.startsWith('https://')).toBe(true);
    expect(await servedFingerprint(node.urls.inference)).toBe(first);

    const second = makeCertificate(dir, 'second');
    expect(second).not.toBe(first);
    // Not yet: the files changed, but the node reads them only on SIGHUP.
    expect(await servedFingerprint(node.urls.inference)).toBe(first);
    node.child.kill('SIGHUP');
    await node.waitFor(/"tls_listeners":1.*configuration reloaded/);
    expect(await servedFingerprint(node.urls.inference)).toBe(second);
    expect(node.child.exitCode).toBe(null);
  });

  it('with TLS, an unusable new key keeps the old certificate and the node running', async () => {
    const dir = tempDir();
    const first = makeCertificate(dir, 'first');
    const node = await startTls(dir);
    writeFileSync(join(dir, 'key.pem'), 'not a key');
    node.child.kill('SIGHUP');
    await node.waitFor(/TLS certificate and key kept as they were/);
    expect(await servedFingerprint(node.urls.inference)).toBe(first);
  });
});

describe('SIGHUP with workers = 2 (the primary reloads and passes it on)', () => {
  it('a new log level reaches every worker', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'modelgate.yaml'), 'log_level: info\n');
    const node = await start(['--workers', '2'], dir);
    // Fresh connections: node:cluster hands them to the workers in turn.
    const requests = async (tag: string) => {
      for (let i = 0; i < 4; i++) {
        const res = await fetch(`${node.urls.inference}/missing/x`, {
          headers: { 'x-request-id': `${tag}-${i}`, connection: 'close' },
        });
        await res.arrayBuffer();
      }
    };
    writeFileSync(join(dir, 'modelgate.yaml'), 'log_level: warn\n');
    node.child.kill('SIGHUP');
    await node.waitFor(/"workers":2,"log_level":"warn".*workers reloaded/);
    await requests('at-warn');
    writeFileSync(join(dir, 'modelgate.yaml'), 'log_level: info\n');
    node.child.kill('SIGHUP');
    await node.waitFor(/"workers":2,"log_level":"info".*workers reloaded/);
    await requests('at-info');
    const lines = await Promise.all([0, 1, 2, 3].map((i) => node.waitFor(new RegExp(`"request_id":"at-info-${i}"`))));
    expect(new Set(lines.map((line) => JSON.parse(line).pid)).size).toBe(2);
    expect(node.output()).not.toContain('"request_id":"at-warn');
    expect(node.child.exitCode).toBe(null);
  });

  it('with TLS, every worker serves the replaced certificate', async () => {
    const dir = tempDir();
    const first = makeCertificate(dir, 'first');
    const files = ['--certificate-file', join(dir, 'cert.pem'), '--private-key-file', join(dir, 'key.pem')];
    const node = await start(['--workers', '2', '--inference-address', 'https://127.0.0.1:0', ...files], dir);
    expect(await servedFingerprint(node.urls.inference)).toBe(first);
    const second = makeCertificate(dir, 'second');
    node.child.kill('SIGHUP');
    await node.waitFor(/"workers":2.*workers reloaded/);
    const served = [];
    for (let i = 0; i < 4; i++) served.push(await servedFingerprint(node.urls.inference));
    expect(served).toEqual(Array(4).fill(second));
  });
});
