import type { Action } from './plan.js';

const SIGN = { create: '+', update: '~', delete: '-' } as const;

/** One line per action (`+ create deployment demo: upstream http://...`), or "No changes". */
export function renderActions(actions: readonly Action[]): string {
  if (actions.length === 0) return 'No changes: the node already matches the file.';
  return actions
    .map((a) => `${SIGN[a.op]} ${a.op} ${a.kind} ${a.name}${a.changes.length > 0 ? `: ${a.changes.join('; ')}` : ''}`)
    .join('\n');
}

/** The JSON form of actions for `-o json`: what changes, never the API requests' bodies. */
export function actionsJson(
  actions: readonly Action[],
): { op: string; kind: string; name: string; changes: readonly string[] }[] {
  return actions.map((a) => ({ op: a.op, kind: a.kind, name: a.name, changes: a.changes }));
}

/** "1 change" / "3 changes". */
export function countChanges(n: number): string {
  return `${n} change${n === 1 ? '' : 's'}`;
}
