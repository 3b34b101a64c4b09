import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeProcess, startNodeProcess, tempDir } from './helpers/node-process.js';

/**
 * Issue 22, item 4: the packages install outside the clone. `npm pack` makes a tarball of each
 * workspace (from the built dist/), they are installed into an empty directory as a user would
 * (`npm install ./modelgate-0.1.0.tgz ...`, dependencies from the registry), and then, from
 * there, `modelgate start --demo` serves the demo deployment and the web console, and a script
 * imports `@modelgate/client`. Slow (a real install), so it has its own generous timeout.
 */

const REPO = join(import.meta.dirname, '../../..');
const INSTALL_TIMEOUT_MS = 840_000;

let packs: string;
let app: string;
let node: NodeProcess | undefined;

beforeAll(async () => {
  // Asynchronous: a synchronous install would block the test worker (and its reporting) for minutes.
  packs = tempDir('modelgate-packs-');
  await run(
    'npm',
    ['pack', '-w', '@modelgate/demo', '-w', '@modelgate/client', '-w', 'modelgate', '--pack-destination', packs],
    REPO,
  );
  app = tempDir('modelgate-app-');
  writeFileSync(join(app, 'package.json'), '{"name":"app","private":true,"type":"module"}\n');
  const tarballs = readdirSync(packs).map((f) => join(packs, f));
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs], app);
}, INSTALL_TIMEOUT_MS + 60_000);

afterAll(async () => {
  await node?.stop();
});

describe('npm pack and install outside the clone', () => {
  it('each tarball holds its built code, and no tests or sources it does not need', () => {
    const names = readdirSync(packs).sort();
    expect(names).toEqual(['modelgate-0.1.0.tgz', 'modelgate-client-0.1.0.tgz', 'modelgate-demo-0.1.0.tgz']);
    const list = (tgz: string) => execFileSync('tar', ['-tzf', join(packs, tgz)], { encoding: 'utf8' });
    const server = list('modelgate-0.1.0.tgz');
    expect(server).toContain('package/bin/modelgate.js');
    expect(server).toContain('package/dist/cli/main.js');
    expect(server).toContain('package/data/common-passwords.txt');
    // The web console (issue 19) is built at install and shipped inside the server's package.
    expect(server).toContain('package/dist/console/index.html');
    expect(server).toMatch(/package\/dist\/console\/assets\/index-[\w-]+\.js/);
    expect(server).not.toContain('package/test/');
    expect(server).not.toContain('package/src/');
    expect(list('modelgate-client-0.1.0.tgz')).toContain('package/dist/index.js');
  });

  it('the installed modelgate starts and serves the demo deployment', async () => {
    const cwd = tempDir();
    node = await startNodeProcess(['--demo'], { cwd, bin: join(app, 'node_modules/modelgate/bin/modelgate.js') });
    const urls = node.urls;
    const key = JSON.parse(readFileSync(join(cwd, 'key_file.json'), 'utf8')).inference.key as string;
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      const res = await fetch(`${urls.inference}/demo/predictions/sentiment`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: '{"text":"I love this"}',
      });
      status = res.status;
      await res.arrayBuffer();
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);

    // A script in the app directory imports the installed SDK and lists deployments with the management key.
    const management = JSON.parse(readFileSync(join(cwd, 'key_file.json'), 'utf8')).management.key as string;
    writeFileSync(
      join(app, 'list.mjs'),
      [
        "import { Client } from '@modelgate/client';",
        'const client = new Client(process.env.MG_URL, { token: process.env.MG_TOKEN });',
        'const page = await client.deployments.list();',
        'console.log(page.deployments.map((d) => d.name).join(","));',
      ].join('\n'),
    );
    const script = spawnSync(process.execPath, ['list.mjs'], {
      cwd: app,
      env: { ...process.env, MG_URL: urls.management, MG_TOKEN: management },
      encoding: 'utf8',
    });
    expect(script.status, script.stderr).toBe(0);
    expect(script.stdout.trim()).toBe('demo');

    // The installed node serves the console at /console/ on its management address, with its script.
    const page = await fetch(`${urls.management}/console/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    const asset = /<script[^>]*src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset, html).toBeDefined();
    expect((await fetch(`${urls.management}${asset}`)).status).toBe(200);
  });
});

async function run(command: string, args: string[], cwd: string): Promise<void> {
  try {
    await promisify(execFile)(command, args, { cwd, timeout: INSTALL_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}
