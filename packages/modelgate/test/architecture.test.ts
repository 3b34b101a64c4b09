import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/node-process.js';

/**
 * The architecture as a test: dependency-cruiser checks src/ against the rule file
 * (.dependency-cruiser.cjs: which folder may import which, and no circles). A forbidden import
 * fails `npm test` with the rule's name and the two files.
 */
const PACKAGE_DIR = resolve(import.meta.dirname, '..');
const RULES = join(PACKAGE_DIR, '.dependency-cruiser.cjs');
const DEPCRUISE = join(PACKAGE_DIR, '../../node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

interface Violation {
  readonly from: string;
  readonly to: string;
  readonly rule: { readonly name: string };
}

/** Cruises `src` under `cwd` with the rule file; resolves with the violations found. */
async function cruise(cwd: string): Promise<{ violations: Violation[]; modules: number }> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [DEPCRUISE, 'src', '--config', RULES, '--output-type', 'json'],
    { cwd, maxBuffer: 64 * 1024 * 1024 },
  ).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  const result = JSON.parse(stdout) as { summary: { violations: Violation[]; totalCruised: number } };
  return { violations: result.summary.violations, modules: result.summary.totalCruised };
}

describe('the import rules (.dependency-cruiser.cjs)', () => {
  it('src/ has no forbidden import and no circle', async () => {
    const { violations, modules } = await cruise(PACKAGE_DIR);
    expect(modules).toBeGreaterThan(200);
    expect(violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`)).toEqual([]);
  }, 120_000);

  it('a forbidden import or a circle in a small tree is reported by rule name', async () => {
    const dir = tempDir();
    const file = (path: string, text: string) => {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    };
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true } }),
    );
    file('src/kernel/errors.ts', "import { gate } from '../dataplane/gate.js';\nexport const e = gate;\n");
    file('src/dataplane/gate.ts', "import { api } from '../controlplane/api.js';\nexport const gate = api;\n");
    file('src/controlplane/api.ts', "import { boot } from '../node/boot.js';\nexport const api = boot;\n");
    file('src/node/boot.ts', 'export const boot = 1;\n');
    file('src/store/a.ts', "import { b } from './b.js';\nexport const a = b;\n");
    file('src/store/b.ts', "import { a } from './a.js';\nexport const b = () => a;\n");
    const found = (await cruise(dir)).violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`);
    expect(found).toEqual(
      expect.arrayContaining([
        'kernel-imports-only-itself: src/kernel/errors.ts → src/dataplane/gate.ts',
        expect.stringMatching(/^dataplane-imports-only-.*: src\/dataplane\/gate\.ts → src\/controlplane\/api\.ts$/),
        expect.stringMatching(/^controlplane-imports-only-.*: src\/controlplane\/api\.ts → src\/node\/boot\.ts$/),
        'no-circular: src/store/a.ts → src/store/b.ts',
      ]),
    );
  }, 120_000);
});
