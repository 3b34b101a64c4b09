import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { messageOf } from './api';
import { href, navigate } from './router';

/** A link inside the console: follows without reloading the page (ctrl/middle click still opens a tab). */
export function Link(props: {
  href: string;
  children: ComponentChildren;
  class?: string;
  /** Its accessible name when the text alone says too little (it should start with or contain the text). */
  label?: string;
}): JSX.Element {
  const onClick = (e: MouseEvent) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(props.href);
  };
  return (
    <a href={props.href} class={props.class} aria-label={props.label} onClick={onClick}>
      {props.children}
    </a>
  );
}

/**
 * A link to an infrastructure's or a service's page (its grants, and a service's versions);
 * screen readers hear which kind of place it is ("service sentiment").
 */
export function PlaceLink(props: { kind: 'infrastructures' | 'services'; name: string }): JSX.Element {
  return (
    <Link
      href={href(props.kind, props.name)}
      label={`${props.kind === 'services' ? 'service' : 'infrastructure'} ${props.name}`}
    >
      {props.name}
    </Link>
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

/** A titled part of a page; its heading names it (a `region` for screen readers and `getByRole`). */
export function Section(props: { id: string; title: string; children: ComponentChildren }): JSX.Element {
  return (
    <section aria-labelledby={`${props.id}-title`}>
      <h2 id={`${props.id}-title`}>{props.title}</h2>
      {props.children}
    </section>
  );
}
