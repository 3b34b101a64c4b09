import { useEffect, useState } from 'preact/hooks';

/** Every console URL starts with this (the management listener serves the app there). */
export const BASE = '/console/';

/** The current route: the path after `/console/`, split on `/` and decoded. */
export function currentRoute(): string[] {
  const rest = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : '';
  return rest
    .split('/')
    .filter((s) => s !== '')
    .map((s) => decodeURIComponent(s));
}

/** The href of a console route: `href('deployments', 'a b')` → `/console/deployments/a%20b`. */
export function href(...segments: string[]): string {
  return BASE + segments.map((s) => encodeURIComponent(s)).join('/');
}

const listeners = new Set<() => void>();

/** Goes to a console route without reloading the page. */
export function navigate(to: string): void {
  history.pushState(null, '', to);
  for (const l of listeners) l();
}

/** The current route, re-rendered on every navigation (links, back and forward). */
export function useRoute(): string[] {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const update = () => setRoute(currentRoute());
    listeners.add(update);
    addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      removeEventListener('popstate', update);
    };
  }, []);
  return route;
}
