import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const PACKAGE_ROOT = resolve(import.meta.dirname, '..');
const SDK_ENTRY = join(PACKAGE_ROOT, 'src/index.js');

/** The ```ts blocks of a markdown text. */
function tsBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
}

/**
 * One module per block: each block runs in its own function (so it may declare what another
 * block declares too), with the names earlier blocks set up declared around it.
 */
function moduleOf(block: string): string {
  const imports = [...block.matchAll(/^import .*$/gm)].map((m) => m[0].replace('@modelgate/client', SDK_ENTRY));
  const code = block.replace(/^import .*$/gm, '');
  return [
    `import * as sdk from '${SDK_ENTRY}';`,
    ...imports,
    'declare const client: sdk.Client;',
    'declare const demo: sdk.DeploymentClient;',
    'declare const messages: { role: string; content: string }[];',
    'declare const body: Record<string, unknown>;',
    'export async function example(): Promise<void> {',
    '  const { Client, ModelgateApiError } = sdk;',
    code,
    '}',
  ].join('\n');
}

const dir = mkdtempSync(join(tmpdir(), 'modelgate-client-readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('README examples', () => {
  const sources = {
    'packages/client/README.md': readFileSync(join(PACKAGE_ROOT, 'README.md'), 'utf8'),
    'README.md (Client SDK)':
      readFileSync(join(PACKAGE_ROOT, '../../README.md'), 'utf8').split('## Client SDK')[1]?.split('\n## ')[0] ?? '',
  };

  it('type-check against the SDK', () => {
    const files: string[] = [];
    for (const [name, markdown] of Object.entries(sources)) {
      const blocks = tsBlocks(markdown);
      expect(blocks.length, name).toBeGreaterThan(0);
      blocks.forEach((block, i) => {
        const file = join(dir, `${name.replace(/\W+/g, '-')}-${i}.ts`);
        writeFileSync(file, moduleOf(block));
        files.push(file);
      });
    }
    const program = ts.createProgram(files, {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      lib: ['lib.es2023.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
      types: ['node'],
      typeRoots: [resolve(PACKAGE_ROOT, '../../node_modules/@types')],
    });
    const problems = ts
      .getPreEmitDiagnostics(program)
      .map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    expect(problems).toEqual([]);
  });
});
