import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, resolve } from 'node:path';
import Fastify from 'fastify';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

/**
 * Issue 10, "Dependencies": what `npm install modelgate` pulls in is what the shipped code
 * (src/, bin/) uses, and nothing installed refuses the Node version we run on (npm warns
 * EBADENGINE at install otherwise).
 */
const PACKAGE_DIR = resolve(import.meta.dirname, '..');
const ROOT = resolve(PACKAGE_DIR, '../..');
const manifest = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** Every file under `dir` whose name ends in one of `extensions`. */
function filesUnder(dir: string, extensions: readonly string[]): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path, extensions));
    else if (extensions.some((ext) => entry.name.endsWith(ext))) out.push(path);
  }
  return out;
}

/**
 * The packages a source text loads at run time: static and dynamic imports, `require`, and a
 * pino transport named by `target:` (pino loads it by name). `import type` loads nothing.
 */
function packagesLoadedBy(source: string): Set<string> {
  const found = new Set<string>();
  const patterns = [
    /^\s*import\s+(?!type\s)(?:[^'"]*?\s+from\s+)?['"]([^'"]+)['"]/gm,
    /^\s*export\s+(?!type\s)[^'"]*?\s+from\s+['"]([^'"]+)['"]/gm,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\btarget:\s*['"]([^'"./][^'"]*)['"]/g,
  ];
  for (const pattern of patterns) {
    for (const match of source.matchAll(pattern)) {
      const specifier = match[1]!;
      if (specifier.startsWith('.') || specifier.startsWith('node:') || builtinModules.includes(specifier)) continue;
      const parts = specifier.split('/');
      found.add(specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!);
    }
  }
  return found;
}

/** Every package.json of an installed package under `dir`/node_modules, nested ones too. */
function installedManifests(dir: string): string[] {
  const modules = join(dir, 'node_modules');
  if (!existsSync(modules)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(modules, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const packageDirs = entry.name.startsWith('@')
      ? readdirSync(join(modules, entry.name), { withFileTypes: true })
          .filter((e) => e.isDirectory())
          .map((e) => join(modules, entry.name, e.name))
      : [join(modules, entry.name)];
    for (const packageDir of packageDirs) {
      const file = join(packageDir, 'package.json');
      if (existsSync(file)) out.push(file);
      out.push(...installedManifests(packageDir));
    }
  }
  return out;
}

describe('runtime dependencies', () => {
  const shipped = [...filesUnder(join(PACKAGE_DIR, 'src'), ['.ts']), ...filesUnder(join(PACKAGE_DIR, 'bin'), ['.js'])];
  const loaded = new Set(shipped.flatMap((file) => [...packagesLoadedBy(readFileSync(file, 'utf8'))]));

  it('the import scan sees what it must (a check of the check)', () => {
    const seen = packagesLoadedBy(
      [
        "import { a } from 'kysely';",
        "import type { B } from 'only-types';",
        "import x, { y } from '@scope/pkg/sub';",
        "export { z } from 'reexported';",
        "const m = await import('lazy');",
        "transport: { target: 'pino-pretty' }",
        "import { c } from './local.js';",
        "import { d } from 'node:fs';",
      ].join('\n'),
    );
    expect([...seen].sort()).toEqual(['@scope/pkg', 'kysely', 'lazy', 'pino-pretty', 'reexported']);
    expect(loaded.has('fastify')).toBe(true);
  });

  it('every entry of `dependencies` is loaded by src/ or bin/ (test-only packages are devDependencies)', () => {
    const unused = Object.keys(manifest.dependencies).filter((name) => !loaded.has(name));
    expect(unused).toEqual([]);
  });

  it('every package src/ or bin/ loads is a runtime dependency, not a devDependency', () => {
    const missing = [...loaded].filter((name) => manifest.dependencies[name] === undefined);
    expect(missing).toEqual([]);
  });
});

describe('installed packages and this Node', () => {
  it(`no installed package's engines.node excludes Node ${process.version}`, () => {
    const manifests = [...installedManifests(ROOT), ...installedManifests(PACKAGE_DIR)];
    expect(manifests.length).toBeGreaterThan(100);
    const refusing: string[] = [];
    for (const file of manifests) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string; engines?: unknown };
      const range = (pkg.engines as { node?: unknown } | undefined)?.node;
      if (typeof range !== 'string' || range.trim() === '') continue;
      if (!semver.satisfies(process.version, range, { includePrerelease: true })) {
        refusing.push(`${pkg.name}@${pkg.version} wants node ${range}`);
      }
    }
    expect(refusing).toEqual([]);
  });

  it('fastify inject, cookies included, works with the cookie version the override pins', async () => {
    const app = Fastify();
    app.get('/', async (req) => ({ cookie: req.headers.cookie ?? null }));
    const res = await app.inject({ url: '/', cookies: { session: 'a b' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ cookie: 'session=a%20b' });
    await app.close();
  });
});
