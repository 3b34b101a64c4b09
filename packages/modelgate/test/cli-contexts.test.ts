import { describe, expect, it } from 'vitest';
import {
  type ContextsFile,
  contextsPath,
  deleteContext,
  parseContextsFile,
  saveContext,
  useContext,
} from '../src/cli/contexts.js';
import { resolveConnection } from '../src/cli/credentials.js';
import type { ModelgateError } from '../src/kernel/errors.js';

/** The pure parts of login contexts: where the file is, its validation, the current pointer, precedence. */

const A = { name: 'a', endpoint: 'https://a.example:8081', api_token: 'mgt_aaaa' };
const B = { name: 'b', endpoint: 'http://127.0.0.1:8081', api_token: 'mgt_bbbb' };

describe('contextsPath', () => {
  it.each([
    [{ XDG_CONFIG_HOME: '/cfg' }, '/cfg/modelgate/contexts.json'],
    [{}, '/home/u/.config/modelgate/contexts.json'],
    [{ XDG_CONFIG_HOME: '' }, '/home/u/.config/modelgate/contexts.json'],
    [{ XDG_CONFIG_HOME: 'relative/cfg' }, '/home/u/.config/modelgate/contexts.json'],
  ])('%j → %s', (env, path) => {
    expect(contextsPath(env, '/home/u')).toBe(path);
  });
});

describe('parseContextsFile', () => {
  const code = (text: string) => {
    try {
      parseContextsFile(text, '/x/contexts.json');
    } catch (err) {
      return [(err as ModelgateError).code, (err as Error).message];
    }
    return 'valid';
  };
  it('accepts what saveContext writes, and an empty file of contexts', () => {
    const file = saveContext(saveContext({ current_context: null, contexts: [] }, A), B);
    expect(parseContextsFile(JSON.stringify(file), 'f')).toEqual(file);
  });
  it.each([
    ['not JSON', '{'],
    ['no contexts array', '{}'],
    ['a context without a token', JSON.stringify({ current_context: null, contexts: [{ name: 'a', endpoint: 'x' }] })],
    ['a name twice', JSON.stringify({ current_context: null, contexts: [A, A] })],
    ['a current pointer to nothing', JSON.stringify({ current_context: 'zz', contexts: [A] })],
  ])('refuses %s with CLI_CONTEXTS_FILE_INVALID, naming the file and never a token', (_, text) => {
    const [c, message] = code(text) as [string, string];
    expect(c).toBe('CLI_CONTEXTS_FILE_INVALID');
    expect(message).toContain('/x/contexts.json');
    expect(message).not.toContain('mgt_');
  });
});

describe('the current pointer', () => {
  const both: ContextsFile = { current_context: 'b', contexts: [A, B] };
  it('save replaces by name and makes it current; use switches; delete of the current leaves none', () => {
    expect(saveContext(both, { ...A, api_token: 'mgt_new' })).toEqual({
      current_context: 'a',
      contexts: [B, { ...A, api_token: 'mgt_new' }],
    });
    expect(useContext(both, 'a').current_context).toBe('a');
    expect(deleteContext(both, 'a').current_context).toBe('b');
    expect(deleteContext(both, 'b')).toEqual({ current_context: null, contexts: [A] });
    expect(() => useContext(both, 'c')).toThrow(/no login context named "c"; saved: a, b/);
  });
});

describe('resolveConnection', () => {
  const env = { env: {}, cwd: '/nonexistent', context: A };
  it('the context gives endpoint and token when nothing else does', () => {
    expect(resolveConnection({}, env)).toEqual({
      endpoint: A.endpoint,
      credential: { token: A.api_token, source: 'login' },
      caFile: undefined,
    });
  });
  it("another endpoint never gets the context's token or CA", () => {
    const other = resolveConnection(
      { endpoint: 'http://127.0.0.1:9' },
      { ...env, context: { ...A, cacert: '/ca.pem' } },
    );
    expect(other).toEqual({ endpoint: 'http://127.0.0.1:9', credential: undefined, caFile: undefined });
  });
  it('the same endpoint given explicitly still uses the context (a trailing slash is the same endpoint)', () => {
    expect(resolveConnection({ endpoint: `${A.endpoint}/` }, env).credential?.source).toBe('login');
  });
});
