import { Argument, type Command } from 'commander';
import { bashCompletion, completionTree, fishCompletion, zshCompletion } from '../completion.js';
import { printText } from '../output.js';

const GENERATORS = { bash: bashCompletion, zsh: zshCompletion, fish: fishCompletion } as const;

const EXAMPLES = `
Examples:
  $ source <(modelgate completion bash)                     # or add it to ~/.bashrc
  $ source <(modelgate completion zsh)                      # after compinit, e.g. in ~/.zshrc
  $ modelgate completion fish > ~/.config/fish/completions/modelgate.fish`;

/**
 * `modelgate completion bash|zsh|fish`: a shell completion script generated from the command
 * tree itself (commands, options, option choices), so it knows every command this CLI has.
 */
export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description('Print a shell completion script for bash, zsh or fish')
    .addArgument(new Argument('<shell>', 'the shell').choices(Object.keys(GENERATORS)))
    .addHelpText('after', EXAMPLES)
    .action((shell: keyof typeof GENERATORS) => {
      printText(GENERATORS[shell](completionTree(program)));
    });
}
