import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { messageOf } from './api';
import { navigate } from './router';

/** A link inside the console: follows without reloading the page (ctrl/middle click still opens a tab). */
export function Link(props: { href: string; children: ComponentChildren; class?: string }): JSX.Element {
  const onClick = (e: MouseEvent) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(props.href);
  };
  return (
    <a href={props.href} class={props.class} onClick={onClick}>
      {props.children}
    </a>
  );
}

/** Loads data for a page; `reload` runs it again. Errors are kept as the API's message. */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: unknown[],
): { data: T | undefined; error: string | undefined; reload: () => void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    load().then(
      (d) => {
        if (!live) return;
        setData(d);
        setError(undefined);
      },
      (err) => live && setError(messageOf(err)),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, reload };
}

/**
 * Runs an action behind a button: `busy` while it runs, its failure kept as the API's message
 * (shown by {@link Problem}), never thrown into a blank page.
 */
export function useAction(): {
  busy: boolean;
  error: string | undefined;
  run: (action: () => Promise<unknown>) => Promise<boolean>;
  clear: () => void;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const run = useCallback(async (action: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    try {
      await action();
      return true;
    } catch (err) {
      setError(messageOf(err));
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run, clear: () => setError(undefined) };
}

/** An API refusal or failure, announced to screen readers. */
export function Problem(props: { error: string | undefined }): JSX.Element | null {
  if (!props.error) return null;
  return (
    <p class="problem" role="alert">
      {props.error}
    </p>
  );
}

/** Copies text to the clipboard; says so for screen readers. */
export function CopyButton(props: { text: string; label?: string }): JSX.Element {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.text);
      setDone(true);
    } catch {
      setDone(false);
    }
  };
  return (
    <button type="button" class="secondary" onClick={copy}>
      {done ? 'Copied' : (props.label ?? 'Copy')}
      <span class="visually-hidden" aria-live="polite">
        {done ? ' to the clipboard' : ''}
      </span>
    </button>
  );
}

/**
 * A credential shown this once: read-only field, copy button, and a Done button that drops it
 * from the page (it is held nowhere else).
 */
export function ShownOnce(props: { label: string; value: string; onDone: () => void; extra?: ComponentChildren }) {
  const id = `once-${props.label.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <section class="shown-once" aria-labelledby={`${id}-title`}>
      <h3 id={`${id}-title`}>{props.label}</h3>
      <p>Copy it now: it is shown this once and cannot be fetched again.</p>
      <div class="row">
        <label class="visually-hidden" for={id}>
          {props.label}
        </label>
        <input id={id} class="mono" readOnly value={props.value} onFocus={(e) => e.currentTarget.select()} />
        <CopyButton text={props.value} />
      </div>
      {props.extra}
      <button type="button" onClick={props.onDone}>
        Done
      </button>
    </section>
  );
}

/**
 * A modal confirmation that names what it acts on; the user types the name to confirm a
 * destructive action. Escape or Cancel closes it.
 */
export function Confirm(props: {
  title: string;
  name: string;
  action: string;
  /** The action; a refusal is shown inside the dialog (the page behind it is inert) and keeps it open. */
  onConfirm: () => Promise<unknown>;
  onClose: () => void;
}): JSX.Element {
  const ref = useRef<HTMLDialogElement>(null);
  const [typed, setTyped] = useState('');
  const action = useAction();
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (typed !== props.name) return;
    if (await action.run(props.onConfirm)) ref.current?.close();
  };
  return (
    <dialog ref={ref} aria-labelledby="confirm-title" onClose={props.onClose}>
      <form onSubmit={submit}>
        <h2 id="confirm-title">{props.title}</h2>
        <p>
          This cannot be undone. Type <strong class="mono">{props.name}</strong> to confirm.
        </p>
        <label for="confirm-name">Name</label>
        <input id="confirm-name" autoComplete="off" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} />
        <Problem error={action.error} />
        <div class="row">
          <button type="submit" class="danger" disabled={typed !== props.name || action.busy}>
            {props.action}
          </button>
          <button type="button" class="secondary" onClick={() => ref.current?.close()}>
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  );
}

/** A date for people: local, to the minute; "never" for none. */
export function when(iso: string | null | undefined): string {
  if (!iso) return 'never';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** The page's heading: names the tab, and takes the focus so a keyboard or screen reader user starts there. */
export function PageTitle(props: { children: string }): JSX.Element {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${props.children} · modelgate`;
    ref.current?.focus();
  }, [props.children]);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {props.children}
    </h1>
  );
}

/** A labelled text input (the label names it for screen readers and `getByLabel`). */
export function Field(props: {
  id: string;
  label: string;
  value: string;
  onValue: (value: string) => void;
  type?: 'text' | 'url' | 'password' | 'number' | 'datetime-local' | 'search';
  required?: boolean;
  autoComplete?: string;
  placeholder?: string;
  list?: string;
}): JSX.Element {
  return (
    <>
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        type={props.type ?? 'text'}
        required={props.required}
        autoComplete={props.autoComplete ?? 'off'}
        placeholder={props.placeholder}
        list={props.list}
        value={props.value}
        onInput={(e) => props.onValue(e.currentTarget.value)}
      />
    </>
  );
}

/** A checkbox (or, with `name`, a radio button) with its label around it. */
export function Check(props: {
  checked: boolean;
  onChange: (checked: boolean) => void;
  children: ComponentChildren;
  radio?: string;
}): JSX.Element {
  return (
    <label class="choice">
      <input
        type={props.radio ? 'radio' : 'checkbox'}
        name={props.radio}
        checked={props.checked}
        onChange={(e) => props.onChange(e.currentTarget.checked)}
      />
      {props.children}
    </label>
  );
}

/** A button in a table row; screen readers hear what it acts on ("Delete sentiment"). */
export function RowButton(props: {
  label: string;
  subject: string;
  onClick: () => void;
  danger?: boolean;
  disabled?: boolean;
}): JSX.Element {
  return (
    <button
      type="button"
      class={props.danger ? 'danger' : 'secondary'}
      disabled={props.disabled}
      onClick={props.onClick}
    >
      {props.label}
      <span class="visually-hidden"> {props.subject}</span>
    </button>
  );
}

/** A data table: its caption (hidden unless `showCaption`) and column headers; the rows are the children. */
export function Table(props: {
  caption: string;
  columns: readonly string[];
  children: ComponentChildren;
  showCaption?: boolean;
  live?: boolean;
}): JSX.Element {
  return (
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
  );
}

/**
 * The confirmation before deleting something: names it and asks for its name typed ({@link Confirm});
 * nothing while `name` is undefined.
 */
export function DeleteConfirm(props: {
  what: string;
  name: string | undefined;
  onDelete: (name: string) => Promise<unknown>;
  onClose: () => void;
}): JSX.Element | null {
  const name = props.name;
  if (name === undefined) return null;
  return (
    <Confirm
      title={`Delete the ${props.what} ${name}?`}
      name={name}
      action={`Delete ${props.what}`}
      onConfirm={() => props.onDelete(name)}
      onClose={props.onClose}
    />
  );
}

/** A rolling credential's state ("retiring until …") and its Roll and Delete buttons, as two table cells. */
export function CredentialCells(props: {
  credential: { state?: string; retires_at?: string | null };
  subject: string;
  busy: boolean;
  onRoll: () => void;
  onDelete: () => void;
  /** False: no buttons (the API said the caller may not change it). */
  mayChange?: boolean;
  /** Cells between the state and the actions. */
  children: ComponentChildren;
}): JSX.Element {
  const state = props.credential.state ?? 'active';
  return (
    <>
      <td>
        {state}
        {props.credential.retires_at ? ` until ${when(props.credential.retires_at)}` : ''}
      </td>
      {props.children}
      <td class="actions">
        {props.mayChange !== false && state === 'active' && (
          <RowButton label="Roll" subject={props.subject} disabled={props.busy} onClick={props.onRoll} />
        )}
        {props.mayChange !== false && (
          <RowButton label="Delete" subject={props.subject} danger onClick={props.onDelete} />
        )}
      </td>
    </>
  );
}
