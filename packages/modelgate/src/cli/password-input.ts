/** All of stdin, without one trailing newline (what `echo` or a file adds). */
export async function readAllStdin(stdin: NodeJS.ReadStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/**
 * The first line of stdin (without its line ending), returning as soon as it has arrived: a
 * caller that pipes one line and keeps the pipe open is not waited for until EOF.
 */
export async function readFirstLine(stdin: NodeJS.ReadStream = process.stdin): Promise<string> {
  let text = '';
  for await (const chunk of stdin) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    if (text.includes('\n')) break; // leaving the loop releases stdin
  }
  return text.split(/\r?\n/)[0] ?? '';
}

/**
 * Reads a password for the CLI: from stdin when it is not a terminal (a pipe or a file, so it
 * stays out of the process list and shell history), else asked on the terminal without echo.
 */
export async function readPassword(prompt: string, stdin: NodeJS.ReadStream = process.stdin): Promise<string> {
  if (!stdin.isTTY) return readAllStdin(stdin);
  // No echo before the prompt shows: a token pasted the moment the prompt appears is never echoed.
  stdin.setRawMode(true);
  process.stderr.write(prompt);
  stdin.setEncoding('utf8');
  stdin.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed = '';
      const onData = (data: string) => {
        for (const ch of data) {
          if (ch === '\r' || ch === '\n' || ch === '\u0004') {
            stdin.off('data', onData);
            process.stderr.write('\n');
            return resolve(typed);
          }
          if (ch === '\u0003') {
            stdin.off('data', onData);
            return reject(new Error('interrupted'));
          }
          if (ch === '\u007f' || ch === '\b') typed = [...typed].slice(0, -1).join('');
          else typed += ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
  }
}

/**
 * Reads several passwords for the CLI, one per prompt: from stdin when it is not a terminal, one
 * per line in the prompts' order (`printf '%s\n%s\n' "$OLD" "$NEW" | ...`), else asked on the
 * terminal one after the other without echo.
 */
export async function readPasswords(
  prompts: readonly string[],
  stdin: NodeJS.ReadStream = process.stdin,
): Promise<string[]> {
  if (!stdin.isTTY) {
    const lines = (await readAllStdin(stdin)).split(/\r?\n/);
    return prompts.map((_, i) => lines[i] ?? '');
  }
  const answers: string[] = [];
  for (const prompt of prompts) answers.push(await readPassword(prompt, stdin));
  return answers;
}
