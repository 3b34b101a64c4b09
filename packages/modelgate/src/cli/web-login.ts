import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { constantTimeEqual } from '../kernel/credential.js';
import { ModelgateError } from '../kernel/errors.js';
import { apiPath, type ManagementClient } from './client.js';

/** How long `login --web` waits for the browser. */
const WAIT_MS = 5 * 60_000;

const PAGE = (title: string, text: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>` +
  `<body><h1>${title}</h1><p>${text}</p></body></html>`;

/** Options of {@link browserLogin}. */
export interface BrowserLoginOptions {
  /** Talks to the management API without a credential (the exchange is public). */
  readonly client: ManagementClient;
  /** The token name proposed in the console. */
  readonly tokenName: string;
  /** Prints a line for the person at the terminal. */
  readonly say: (line: string) => void;
  /** Try to open the URL in the default browser. */
  readonly open: boolean;
  readonly waitMs?: number;
}

/**
 * `modelgate login --web` (RFC 8252): listens on a loopback port, sends the person to the
 * console's approval page with a random `state` and a PKCE S256 challenge, takes the one-time
 * code the browser brings back (only with the same state), and exchanges it, with the verifier
 * that never left this process, for the approved API token. Nothing is pasted by hand.
 * @returns the API token
 */
export async function browserLogin(options: BrowserLoginOptions): Promise<string> {
  const state = randomBytes(24).toString('base64url');
  const verifier = randomBytes(48).toString('base64url');
  let settle: { resolve: (code: string) => void; reject: (err: Error) => void } | undefined;
  const codeArrives = new Promise<string>((resolve, reject) => {
    settle = { resolve, reject };
  });
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method !== 'GET' || url.pathname !== '/callback') {
      res.writeHead(404).end();
      return;
    }
    // Only the browser that was sent from here comes back with this state (RFC 6749 §10.12).
    const returned = url.searchParams.get('state') ?? '';
    if (!constantTimeEqual(returned, state)) {
      res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' });
      res.end(PAGE('Login refused', 'This answer does not belong to the login the CLI is waiting for.'));
      return;
    }
    const code = url.searchParams.get('code');
    res.writeHead(code ? 200 : 403, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    if (code) {
      res.end(PAGE('Logged in', 'The modelgate CLI has its token. You can close this tab.'));
      settle?.resolve(code);
    } else {
      res.end(PAGE('Login denied', 'Nothing was created. You can close this tab.'));
      settle?.reject(new ModelgateError('CLI_USAGE', 'the login was denied in the browser; nothing was saved'));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const timer = setTimeout(
    () => settle?.reject(new ModelgateError('CLI_USAGE', 'no answer from the browser in 5 minutes; nothing was saved')),
    options.waitMs ?? WAIT_MS,
  );
  try {
    const query = new URLSearchParams({
      port: String(port),
      state,
      // RFC 7636 S256.
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      name: options.tokenName,
    });
    const url = `${options.client.endpoint}/console/cli-login?${query}`;
    options.say(`Open this address in a browser where you can sign in to the console, and approve the login:\n${url}`);
    if (options.open) openInBrowser(url);
    const code = await codeArrives;
    const made = await options.client.request<{ token: string }>('POST', apiPath('cli-login', 'token'), {
      code,
      code_verifier: verifier,
    });
    return made.token;
  } finally {
    clearTimeout(timer);
    server.closeAllConnections();
    server.close();
  }
}

/** Opens a URL in the desktop's browser when there is one; a failure only means the person opens it. */
function openInBrowser(url: string): void {
  const [command, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['cmd', ['/c', 'start', '', url]]
        : ['xdg-open', [url]];
  try {
    const child = spawn(command, args as string[], { stdio: 'ignore', detached: true });
    child.on('error', () => {});
    child.unref();
  } catch {
    // No opener: the address is printed above.
  }
}
