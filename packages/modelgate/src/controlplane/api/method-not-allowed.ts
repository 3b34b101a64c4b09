/**
 * Which methods each registered route pattern takes, so that a known path asked with another
 * method answers 405 with `Allow` (RFC 9110 §15.5.6) instead of a 404 that hides the route.
 *
 * @example
 * ```ts
 * const routes = new RouteMethods();
 * routes.add('GET', '/api/v1/deployments/:name');
 * routes.allowed('/api/v1/deployments/sentiment?x=1'); // → ['GET']
 * ```
 */
export class RouteMethods {
  readonly #routes = new Map<string, { readonly pattern: RegExp; readonly methods: Set<string> }>();

  /** Records a route as fastify registers it (`onRoute`); a method list counts each method. */
  add(method: string | readonly string[], url: string): void {
    let entry = this.#routes.get(url);
    if (!entry) {
      entry = { pattern: patternOf(url), methods: new Set() };
      this.#routes.set(url, entry);
    }
    for (const m of typeof method === 'string' ? [method] : method) entry.methods.add(m.toUpperCase());
  }

  /** Every method some route takes on this request path (query ignored), sorted; empty when none. */
  allowed(url: string): string[] {
    const path = url.split('?', 1)[0] ?? '';
    const methods = new Set<string>();
    for (const { pattern, methods: own } of this.#routes.values()) {
      if (pattern.test(path)) for (const m of own) methods.add(m);
    }
    return [...methods].sort();
  }

  /**
   * Every route as `METHOD /pattern` (HEAD, which fastify adds beside each GET, left out), sorted:
   * what the permission matrix test checks has a decision.
   */
  list(): string[] {
    const out: string[] = [];
    for (const [url, { methods }] of this.#routes) {
      for (const m of methods) if (m !== 'HEAD') out.push(`${m} ${url}`);
    }
    return out.sort();
  }
}

/** `/a/:name/b` → `^/a/[^/]+/b$`; `*` matches the rest. Static parts are matched literally. */
export function patternOf(url: string): RegExp {
  const parts = url.split('/').map((segment) => {
    if (segment === '*') return '.*';
    if (segment.startsWith(':')) return '[^/]+';
    return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  });
  return new RegExp(`^${parts.join('/')}$`);
}
