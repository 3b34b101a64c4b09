import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { sendError } from '../errors.js';

/** Where `npm run build` copies the console's assets (packages/console/dist), from src/ and dist/ alike. */
export const CONSOLE_ASSETS_DIR = fileURLToPath(new URL('../../../../dist/console/', import.meta.url));

/** The console's path on the management listener. */
export const CONSOLE_PATH = '/console/';

/**
 * The console's Content-Security-Policy: its own scripts and styles only (no inline code, no
 * eval), calls to this origin only (the management API), never framed.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

/** Options of {@link consoleRoutes}. */
export interface ConsoleRouteOptions {
  /** The gateway's URL, shown in the console's "how to call it" lines; read per page load (known once bound). */
  readonly inferenceUrl: () => string;
  /** The node-wide HTTP Basic username, for the same lines. */
  readonly basicUsername: string;
  /** Default {@link CONSOLE_ASSETS_DIR}. */
  readonly assetsDir?: string;
}

/**
 * The web console at `/console/` (issue 19): its built assets, read into memory once, and its
 * page for every other path under it (the console routes in the browser). No credential is
 * needed to load it: everything it shows comes from the management API, which decides.
 */
export async function consoleRoutes(app: FastifyInstance, opts: ConsoleRouteOptions): Promise<void> {
  const dir = opts.assetsDir ?? CONSOLE_ASSETS_DIR;
  const page = existsSync(join(dir, 'index.html')) ? readFileSync(join(dir, 'index.html'), 'utf8') : undefined;
  const assets = new Map<string, { type: string; body: Buffer }>();
  if (existsSync(join(dir, 'assets'))) {
    for (const name of readdirSync(join(dir, 'assets'))) {
      const type = TYPES[extname(name)];
      if (type) assets.set(name, { type, body: readFileSync(join(dir, 'assets', name)) });
    }
  }
  const hide = { hide: true };
  const config = { auth: 'public' as const };

  const secure = (reply: FastifyReply): FastifyReply =>
    reply.headers({
      'content-security-policy': CONSOLE_CSP,
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
    });

  app.get('/console', { schema: hide, config }, async (_req, reply) => reply.redirect(CONSOLE_PATH, 308));
  app.get<{ Params: { '*': string } }>(`${CONSOLE_PATH}*`, { schema: hide, config }, async (req, reply) => {
    const rest = req.params['*'];
    if (rest.startsWith('assets/')) {
      const asset = assets.get(rest.slice('assets/'.length));
      if (!asset) return sendError(req, reply, 404, 'ROUTE_NOT_FOUND');
      // Names carry a content hash: a changed file is a new name.
      return secure(reply)
        .header('cache-control', 'public, max-age=31536000, immutable')
        .type(asset.type)
        .send(asset.body);
    }
    if (page === undefined) {
      return sendError(
        req,
        reply,
        404,
        'ROUTE_NOT_FOUND',
        'The console is not built: run `npm run build` at the repository root',
      );
    }
    const html = page
      .replace(
        'name="modelgate-inference" content=""',
        `name="modelgate-inference" content="${attr(opts.inferenceUrl())}"`,
      )
      .replace(
        'name="modelgate-basic-username" content=""',
        `name="modelgate-basic-username" content="${attr(opts.basicUsername)}"`,
      );
    return secure(reply).type('text/html; charset=utf-8').send(html);
  });
}

function attr(value: string): string {
  return value.replace(/[&"<>]/g, (c) => `&#${c.charCodeAt(0)};`);
}
