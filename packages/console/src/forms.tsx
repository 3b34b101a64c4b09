import { type ComponentChildren, type JSX, toChildArray } from 'preact';
import { Problem } from './ui';

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

/** A labelled drop-down of `options` (`[value, label]` pairs). */
export function Select<V extends string>(props: {
  id: string;
  label: string;
  value: V;
  options: readonly (readonly [V, string])[];
  onValue: (value: V) => void;
}): JSX.Element {
  return (
    <>
      <label for={props.id}>{props.label}</label>
      <select id={props.id} value={props.value} onChange={(e) => props.onValue(e.currentTarget.value as V)}>
        {props.options.map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </select>
    </>
  );
}

/**
 * A checkbox (or, with `radio`, a radio button) with its label around it; `more`, the fields
 * that belong to the choice, shown indented under it while it is checked.
 */
export function Check(props: {
  checked: boolean;
  onChange: (checked: boolean) => void;
  children: ComponentChildren;
  radio?: string;
  more?: ComponentChildren;
}): JSX.Element {
  return (
    <>
      <label class="choice">
        <input
          type={props.radio ? 'radio' : 'checkbox'}
          name={props.radio}
          checked={props.checked}
          onChange={(e) => props.onChange(e.currentTarget.checked)}
        />
        {props.children}
      </label>
      {props.checked && props.more ? <div class="indent">{props.more}</div> : null}
    </>
  );
}

/** What every console form takes: its name, what submitting does, and its submit button. */
interface FormProps {
  /** The form's accessible name ("New API key"). */
  label: string;
  /** Runs on submit (the browser's own submit is prevented). */
  onSubmit: () => void;
  submitLabel: string;
  /** Disables the submit button while the action runs. */
  busy?: boolean;
  children: ComponentChildren;
}

/** A one-line form: each child (a {@link Field}, say) takes an equal share of the line, then the submit button. */
export function InlineForm(props: FormProps & { danger?: boolean }): JSX.Element {
  return (
    <form class="row" onSubmit={submitting(props.onSubmit)} aria-label={props.label}>
      {toChildArray(props.children).map((child, i) => (
        <div class="grow" key={i}>
          {child}
        </div>
      ))}
      <button type="submit" class={props.danger ? 'danger' : undefined} disabled={props.busy}>
        {props.submitLabel}
      </button>
    </form>
  );
}

/**
 * A form in a panel: an optional heading, its fields, the action's refusal (the API's message),
 * then the submit button and, with `onCancel`, a Cancel button (or `actions` for other buttons).
 */
export function PanelForm(
  props: FormProps & {
    title?: string;
    error?: string | undefined;
    onCancel?: () => void;
    /** Shown between the refusal and the buttons (a status line). */
    status?: ComponentChildren;
    /** More buttons after the submit button. */
    actions?: ComponentChildren;
  },
): JSX.Element {
  return (
    <form class="panel" onSubmit={submitting(props.onSubmit)} aria-label={props.label}>
      {props.title && <h2>{props.title}</h2>}
      {props.children}
      <Problem error={props.error} />
      {props.status}
      <div class="row">
        <button type="submit" disabled={props.busy}>
          {props.submitLabel}
        </button>
        {props.onCancel && (
          <button type="button" class="secondary" onClick={props.onCancel}>
            Cancel
          </button>
        )}
        {props.actions}
      </div>
    </form>
  );
}

function submitting(run: () => void): (e: Event) => void {
  return (e) => {
    e.preventDefault();
    run();
  };
}
