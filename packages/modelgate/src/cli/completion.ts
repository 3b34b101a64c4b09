import type { Command } from 'commander';

/** One option as completion sees it. */
export interface CompletionOption {
  /** `-o` and/or `--output`. */
  readonly names: readonly string[];
  readonly description: string;
  /** What its value completes to: nothing (a flag), fixed choices, file names, or free text. */
  readonly value:
    | { readonly kind: 'none' }
    | { readonly kind: 'choices'; readonly choices: readonly string[] }
    | { readonly kind: 'file' }
    | { readonly kind: 'text' };
}

/** One command of the tree: its words after `modelgate`, its subcommands, options and fixed arguments. */
export interface CompletionNode {
  readonly words: readonly string[];
  readonly subcommands: readonly { readonly name: string; readonly description: string }[];
  readonly options: readonly CompletionOption[];
  /** Values of a positional argument with choices (`completion <shell>`). */
  readonly argumentChoices: readonly string[];
}

const FILE_VALUE = /(?:^|-)(?:file|dir|cacert|config)$/;

/**
 * The completion tree of a commander program, read from the commands themselves, so the shell
 * scripts generated from it cannot drift from the CLI.
 */
export function completionTree(program: Command): CompletionNode[] {
  const nodes: CompletionNode[] = [];
  const visit = (command: Command, words: readonly string[]) => {
    const visible = command.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
    const options: CompletionOption[] = command.options
      .filter((o) => !o.hidden)
      .map((o) => {
        const long = o.long?.replace(/^--/, '') ?? '';
        const value: CompletionOption['value'] =
          !o.required && !o.optional
            ? { kind: 'none' }
            : o.argChoices
              ? { kind: 'choices', choices: o.argChoices }
              : FILE_VALUE.test(long) || /[<[](?:file|path)[>\]]/.test(o.flags)
                ? { kind: 'file' }
                : { kind: 'text' };
        return {
          names: [o.short, o.long].filter((n): n is string => typeof n === 'string'),
          description: o.description,
          value,
        };
      });
    options.push({ names: ['-h', '--help'], description: 'display help for command', value: { kind: 'none' } });
    nodes.push({
      words,
      subcommands: visible.map((c) => ({ name: c.name(), description: c.description() })),
      options,
      argumentChoices: command.registeredArguments.flatMap((a) => a.argChoices ?? []),
    });
    for (const sub of visible) visit(sub, [...words, sub.name()]);
  };
  visit(program, []);
  return nodes;
}

/** Every step from a command path to a subcommand, as `parent|word` → `child` (for the word walk). */
function transitions(nodes: readonly CompletionNode[]): [string, string][] {
  return nodes.flatMap((n) =>
    n.subcommands.map((s): [string, string] => [`${n.words.join(' ')}|${s.name}`, [...n.words, s.name].join(' ')]),
  );
}

/** Options taking a value, grouped by what the value completes to, as `path|option` keys. */
function valueCases(nodes: readonly CompletionNode[]) {
  const cases: { keys: string[]; value: CompletionOption['value'] }[] = [];
  for (const n of nodes) {
    for (const o of n.options) {
      if (o.value.kind === 'none') continue;
      cases.push({ keys: o.names.map((name) => `${n.words.join(' ')}|${name}`), value: o.value });
    }
  }
  return cases;
}

const sq = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;

/**
 * A bash completion script: `source <(modelgate completion bash)`.
 *
 * @example
 * ```ts
 * process.stdout.write(bashCompletion(completionTree(buildProgram())));
 * ```
 */
export function bashCompletion(nodes: readonly CompletionNode[]): string {
  const walk = transitions(nodes)
    .map(([key, to]) => `      ${sq(key)}) cmdpath=${sq(to)} ;;`)
    .join('\n');
  const values = valueCases(nodes)
    .map(({ keys, value }) => {
      const reply =
        value.kind === 'choices'
          ? `COMPREPLY=($(compgen -W ${sq(value.choices.join(' '))} -- "$cur"))`
          : value.kind === 'file'
            ? 'COMPREPLY=($(compgen -f -- "$cur"))'
            : 'COMPREPLY=()';
      return `    ${keys.map(sq).join('|')}) ${reply}; return ;;`;
    })
    .join('\n');
  const words = nodes
    .map((n) => {
      const commands = [...n.subcommands.map((s) => s.name), ...n.argumentChoices].join(' ');
      const options = n.options.flatMap((o) => o.names).join(' ');
      return `    ${sq(n.words.join(' '))}) commands=${sq(commands)}; options=${sq(options)} ;;`;
    })
    .join('\n');
  return `# bash completion for modelgate, generated from its command tree: source <(modelgate completion bash)
_modelgate() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local cmdpath="" commands="" options="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "$cmdpath|\${COMP_WORDS[i]}" in
${walk}
    esac
  done
  case "$cmdpath|$prev" in
${values}
  esac
  case "$cmdpath" in
${words}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$options" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$commands" -- "$cur"))
  fi
}
complete -F _modelgate modelgate
`;
}

/** A zsh completion script: `source <(modelgate completion zsh)` after `compinit`. */
export function zshCompletion(nodes: readonly CompletionNode[]): string {
  const described = (name: string, description: string) => sq(`${name.replaceAll(':', '\\:')}:${description}`);
  const walk = transitions(nodes)
    .map(([key, to]) => `      ${sq(key)}) cmdpath=${sq(to)} ;;`)
    .join('\n');
  const values = valueCases(nodes)
    .map(({ keys, value }) => {
      const reply =
        value.kind === 'choices'
          ? `compadd -- ${value.choices.map(sq).join(' ')}`
          : value.kind === 'file'
            ? '_files'
            : ':';
      return `    ${keys.map(sq).join('|')}) ${reply}; return ;;`;
    })
    .join('\n');
  const words = nodes
    .map((n) => {
      const commands = [
        ...n.subcommands.map((s) => described(s.name, s.description)),
        ...n.argumentChoices.map((c) => described(c, c)),
      ].join(' ');
      const options = n.options.flatMap((o) => o.names.map((name) => described(name, o.description))).join(' ');
      return `    ${sq(n.words.join(' '))}) commands=(${commands}); options=(${options}) ;;`;
    })
    .join('\n');
  return `#compdef modelgate
# zsh completion for modelgate, generated from its command tree: source <(modelgate completion zsh)
_modelgate() {
  local cur="\${words[CURRENT]}" prev="\${words[CURRENT-1]}" cmdpath="" i
  local -a commands options
  for ((i = 2; i < CURRENT; i++)); do
    case "$cmdpath|\${words[i]}" in
${walk}
    esac
  done
  case "$cmdpath|$prev" in
${values}
  esac
  case "$cmdpath" in
${words}
  esac
  if [[ "$cur" == -* ]]; then
    _describe -t options option options
  else
    _describe -t commands command commands
  fi
}
compdef _modelgate modelgate
`;
}

/** A fish completion script: `modelgate completion fish | source`. */
export function fishCompletion(nodes: readonly CompletionNode[]): string {
  const fq = (text: string) => `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
  const walk = transitions(nodes)
    .map(([key, to]) => `      case ${fq(key)}\n        set cmdpath ${fq(to)}`)
    .join('\n');
  const lines: string[] = [];
  for (const n of nodes) {
    const at = `-n ${fq(`__modelgate_at ${fq(n.words.join(' '))}`)}`;
    for (const s of n.subcommands) lines.push(`complete -c modelgate ${at} -a ${fq(s.name)} -d ${fq(s.description)}`);
    if (n.argumentChoices.length > 0) lines.push(`complete -c modelgate ${at} -a ${fq(n.argumentChoices.join(' '))}`);
    for (const o of n.options) {
      const names = o.names.map((name) => (name.startsWith('--') ? `-l ${name.slice(2)}` : `-s ${name.slice(1)}`));
      const value =
        o.value.kind === 'choices'
          ? ` -x -a ${fq(o.value.choices.join(' '))}`
          : o.value.kind === 'file'
            ? ' -r -F'
            : o.value.kind === 'text'
              ? ' -x'
              : '';
      lines.push(`complete -c modelgate ${at} ${names.join(' ')}${value} -d ${fq(o.description)}`);
    }
  }
  return `# fish completion for modelgate, generated from its command tree: modelgate completion fish | source
function __modelgate_path
  set -l cmdpath ''
  for w in (commandline -opc)[2..-1]
    switch "$cmdpath|$w"
${walk}
    end
  end
  echo $cmdpath
end
function __modelgate_at
  set -l here (__modelgate_path)
  test "$here" = "$argv[1]"
end
complete -c modelgate -f
${lines.join('\n')}
`;
}
