import type { ComponentChildren, JSX } from 'preact';
import { useState } from 'preact/hooks';
import { Field } from './forms';
import { Confirm, RowButton, when } from './ui';

/** A data table: its caption (hidden unless `showCaption`) and column headers; the rows are the children. */
export function Table(props: {
  caption: string;
  columns: readonly string[];
  children: ComponentChildren;
  showCaption?: boolean;
  live?: boolean;
}): JSX.Element {
  // A wide table scrolls in its own box rather than widening the page.
  return (
    <div class="table-scroll">
      <table aria-live={props.live ? 'polite' : undefined}>
        <caption class={props.showCaption ? undefined : 'visually-hidden'}>{props.caption}</caption>
        <thead>
          <tr>
            {props.columns.map((c) => (
              <th scope="col" key={c}>
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}

/**
 * A list the API answered, as a {@link Table} of one row per item; `empty` says so when there are
 * none, and nothing is shown while it loads (`items` undefined). With `actions`, an Actions column
 * holds each row's buttons, only where `mayChange` (the API's answer) allows, and only when some
 * row allows them.
 */
export function ItemTable<T>(props: {
  items: readonly T[] | undefined;
  empty: string;
  caption: string;
  /** The columns of `cells` (Actions is added). */
  columns: readonly string[];
  keyOf: (item: T) => string;
  /** The row's cells, its header cell first. */
  cells: (item: T) => ComponentChildren;
  actions?: (item: T) => ComponentChildren;
  /** Whether the caller may change this item (default: yes); the API says. */
  mayChange?: (item: T) => boolean;
}): JSX.Element | null {
  const { items, actions, mayChange = () => true } = props;
  if (items === undefined) return null;
  if (items.length === 0) return <p>{props.empty}</p>;
  const withActions = actions !== undefined && items.some(mayChange);
  return (
    <Table caption={props.caption} columns={withActions ? [...props.columns, 'Actions'] : props.columns}>
      {items.map((item) => (
        <tr key={props.keyOf(item)}>
          {props.cells(item)}
          {withActions && <td class="actions">{mayChange(item) && actions(item)}</td>}
        </tr>
      ))}
    </Table>
  );
}

/**
 * Deleting a thing after its name is typed ({@link Confirm}): `ask(item)` opens the dialog that
 * names it, `dialog` is where it renders (nothing until asked).
 *
 * @example
 * ```tsx
 * const deleting = useDeleteConfirm('secret', (s: Secret) => s.name, (s) => api.delete(s.name), list.reload);
 * <RowButton label="Delete" subject={s.name} danger onClick={() => deleting.ask(s)} />
 * {deleting.dialog}
 * ```
 */
export function useDeleteConfirm<T>(
  what: string,
  nameOf: (item: T) => string,
  onDelete: (item: T) => Promise<unknown>,
  /** What follows a deletion the API accepted (a reload of the list, say). */
  then: () => void = () => {},
): { ask: (item: T) => void; dialog: JSX.Element | null } {
  const [asked, setAsked] = useState<{ item: T } | undefined>(undefined);
  const dialog =
    asked === undefined ? null : (
      <Confirm
        title={`Delete the ${what} ${nameOf(asked.item)}?`}
        name={nameOf(asked.item)}
        action={`Delete ${what}`}
        onConfirm={() => onDelete(asked.item).then(then)}
        onClose={() => setAsked(undefined)}
      />
    );
  return { ask: (item) => setAsked({ item }), dialog };
}

/** A rolling credential as the API lists it: a deployment's API key, a person's API token. */
interface Credential {
  readonly id: string;
  readonly state?: string;
  readonly retires_at?: string | null;
}

/**
 * Rolling credentials (a deployment's API keys, a person's API tokens): the grace a roll leaves
 * the old one, then one row each with its state and, where the API lets the caller change it,
 * Roll (while active) and Delete (the name typed to confirm).
 */
export function CredentialTable<C extends Credential>(props: {
  /** "API key", "API token": names the grace field, the empty list and the confirmation. */
  what: string;
  /** Prefix of the grace field's id (`key` → `key-grace`). */
  id: string;
  items: readonly C[] | undefined;
  caption: string;
  /** Every column but Actions, State included. */
  columns: readonly string[];
  /** What a row's buttons and its confirmation name it by. */
  nameOf: (credential: C) => string;
  /** The row's cells before its state (its header cell first). */
  lead: (credential: C) => ComponentChildren;
  /** The row's cells after its state. */
  rest: (credential: C) => ComponentChildren;
  /** Rolls it, the old one kept working for `graceSeconds`. */
  roll: (credential: C, graceSeconds: number) => void;
  remove: (credential: C) => Promise<unknown>;
  busy: boolean;
  initialGrace: string;
  /** False: no grace field and no buttons (the API said the caller may not change these). */
  mayChange?: boolean;
}): JSX.Element {
  const [grace, setGrace] = useState(props.initialGrace);
  const deleting = useDeleteConfirm(props.what, props.nameOf, props.remove);
  const mayChange = props.mayChange !== false;
  const stateOf = (c: C) => c.state ?? 'active';
  return (
    <>
      {mayChange && (
        <div class="narrow">
          <Field
            id={`${props.id}-grace`}
            label={`Grace when rolling (seconds the old ${props.what.split(' ').at(-1)} keeps working)`}
            type="number"
            value={grace}
            onValue={setGrace}
          />
        </div>
      )}
      <ItemTable
        items={props.items}
        empty={`No ${props.what}s yet.`}
        caption={props.caption}
        columns={props.columns}
        keyOf={(c) => c.id}
        mayChange={() => mayChange}
        cells={(c) => (
          <>
            {props.lead(c)}
            <td>
              {stateOf(c)}
              {c.retires_at ? ` until ${when(c.retires_at)}` : ''}
            </td>
            {props.rest(c)}
          </>
        )}
        actions={(c) => (
          <>
            {stateOf(c) === 'active' && (
              <RowButton
                label="Roll"
                subject={props.nameOf(c)}
                disabled={props.busy}
                onClick={() => props.roll(c, Number(grace) || 0)}
              />
            )}
            <RowButton label="Delete" subject={props.nameOf(c)} danger onClick={() => deleting.ask(c)} />
          </>
        )}
      />
      {deleting.dialog}
    </>
  );
}
