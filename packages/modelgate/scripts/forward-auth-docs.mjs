#!/usr/bin/env node
/**
 * Rewrites the generated configurations in docs/forward-auth.md: each fenced block right after a
 * line holding a `modelgate forward-auth ...` command becomes that command's output (built dist).
 * `forward-auth.test.ts` checks the document shows today's output.
 *
 *   npm run build && node packages/modelgate/scripts/forward-auth-docs.mjs --write docs/forward-auth.md
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { proxyConfig } from '../dist/dataplane/forward-auth/generators.js';

/** The options a `modelgate forward-auth <proxy> --flag value ...` command line gives. */
function optionsOf(command) {
  const words = command.split(/\s+/).filter(Boolean);
  const proxy = words[2];
  const options = { node: 'http://127.0.0.1:8080' };
  for (let i = 3; i < words.length; i++) {
    const flag = words[i].replace(/^--/, '');
    if (flag === 'cache') options.cache = true;
    else options[flag === 'run-dir' ? 'runDir' : flag] = words[++i];
  }
  return { proxy, options };
}

export function rewrite(text) {
  return text.replace(/`(modelgate forward-auth [^`]+)`\n\n```(\w+)\n[\s\S]*?```/g, (_all, command, lang) => {
    const { proxy, options } = optionsOf(command);
    return `\`${command}\`\n\n\`\`\`${lang}\n${proxyConfig(proxy, options)}\`\`\``;
  });
}

const at = process.argv.indexOf('--write');
if (at > 0) {
  const file = process.argv[at + 1];
  writeFileSync(file, rewrite(readFileSync(file, 'utf8')));
  process.stdout.write(`${file}: forward-auth configurations updated\n`);
}
