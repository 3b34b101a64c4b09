/**
 * Request/reply over a node:cluster IPC link, the same on both ends: `call` sends a named call
 * and resolves with the other end's answer (handlers may be async: the reply waits for them),
 * `notify` sends one that needs no answer. Messages are plain JSON; nothing secret crosses
 * (hashes, ids and client addresses only).
 */

/** The two ends node gives us: `process` in a worker, a `cluster.Worker` in the primary. */
export interface Endpoint {
  send(message: unknown): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
}

export type Handlers = Readonly<Record<string, (payload: unknown) => unknown>>;

interface CallMessage {
  readonly mg: 'call';
  readonly id: number;
  readonly method: string;
  readonly payload: unknown;
}

interface ReplyMessage {
  readonly mg: 'reply';
  readonly id: number;
  readonly value?: unknown;
  readonly error?: string;
}

export class Channel {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();
  private closed = false;

  constructor(
    private readonly endpoint: Endpoint,
    handlers: Handlers,
  ) {
    endpoint.on('message', (message) => {
      const m = message as CallMessage | ReplyMessage | null;
      if (m?.mg === 'reply') this.settle(m);
      else if (m?.mg === 'call') this.answer(m, handlers);
    });
  }

  /** Calls `method` on the other end; rejects if the link closes first. */
  call<T>(method: string, payload?: unknown): Promise<T> {
    if (this.closed) return Promise.reject(new Error('The IPC link is closed'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.send({ mg: 'call', id, method, payload } satisfies CallMessage);
    });
  }

  /** Sends a call whose answer nobody waits for (id 0). */
  notify(method: string, payload?: unknown): void {
    if (!this.closed) this.send({ mg: 'call', id: 0, method, payload } satisfies CallMessage);
  }

  /** The other end is gone: every pending call rejects, later ones too. */
  close(): void {
    this.closed = true;
    for (const { reject } of this.waiting.values()) reject(new Error('The IPC link closed'));
    this.waiting.clear();
  }

  private send(message: CallMessage | ReplyMessage): void {
    try {
      this.endpoint.send(message);
    } catch {
      this.close();
    }
  }

  private settle(m: ReplyMessage): void {
    const waiter = this.waiting.get(m.id);
    if (!waiter) return;
    this.waiting.delete(m.id);
    if (m.error !== undefined) waiter.reject(new Error(m.error));
    else waiter.resolve(m.value);
  }

  private answer(m: CallMessage, handlers: Handlers): void {
    const handler = handlers[m.method];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`Unknown IPC call ${m.method}`);
        return handler(m.payload);
      })
      .then(
        (value) => {
          if (m.id !== 0) this.send({ mg: 'reply', id: m.id, value });
        },
        (err: unknown) => {
          if (m.id !== 0) this.send({ mg: 'reply', id: m.id, error: String(err) });
        },
      );
  }
}
