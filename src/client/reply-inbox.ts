/**
 * ReplyInbox: the replies to a client's entity calls, over the fabric port: one inbox prefix
 * (`fabric.inbox()`) and one subscription to `<inbox>.>` per client, each call waiting on its
 * own token under it. No per-call subscription and no extra round trip: a call costs a map entry
 * and a timer on the fabric's clock (so the test kit's virtual clock drives call deadlines).
 *
 * Invariants:
 * - every expected reply settles exactly once: by its reply, its deadline, `cancel`, or `close`;
 * - the subscription is in place before the first reply subject is handed out (open() resolves
 *   after `fabric.subscribe` did), so a reply can never arrive before anyone listens for it;
 * - the pending map is bounded (`maxPending`): beyond it a call is refused at once with
 *   `connection`, instead of memory growing without limit while replies do not come.
 */
import { DurableError } from '../core/errors.js';
import type { CancelTimer } from '../core/clock.js';
import type { CoreMessage, Fabric, Stoppable } from '../store/fabric.js';

/** Calls waiting for an answer at once, per client, before new ones are refused. */
export const DEFAULT_MAX_PENDING = 100_000;

interface Pending<T> {
  resolve: (value: T) => void;
  reject: (e: Error) => void;
  cancelTimer: CancelTimer;
}

/** A reply being waited for. */
export interface ExpectedReply<T> {
  /** The subject the answer must be sent to. */
  subject: string;
  /** Settles with the decoded reply, or rejects (timeout, close, unreadable reply). */
  promise: Promise<T>;
  /** Stops waiting (the request was never sent); the promise rejects with `reason`. */
  cancel(reason: Error): void;
}

export class ReplyInbox<T> {
  readonly #pending = new Map<string, Pending<T>>();
  #next = 1;
  #closed = false;

  private constructor(
    private readonly fabric: Fabric,
    private readonly prefix: string,
    private readonly decode: (m: CoreMessage) => T,
    private readonly maxPending: number,
    private sub: Stoppable | undefined,
  ) {}

  /**
   * Opens the inbox: resolves once its subscription is in place.
   * @example const inbox = await ReplyInbox.open(fabric, (m) => decodeJson<CallOutcome>(m.data));
   */
  static async open<T>(fabric: Fabric, decode: (m: CoreMessage) => T, options: { maxPending?: number } = {}): Promise<ReplyInbox<T>> {
    const prefix = `${fabric.inbox()}.`;
    const inbox = new ReplyInbox<T>(fabric, prefix, decode, options.maxPending ?? DEFAULT_MAX_PENDING, undefined);
    inbox.sub = await fabric.subscribe(`${prefix}>`, (m) => inbox.#onReply(m));
    return inbox;
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  /** Registers a reply subject; `onTimeout` builds the error when nothing came within `timeoutMs` (fabric clock). */
  expect(timeoutMs: number, onTimeout: () => Error): ExpectedReply<T> {
    if (this.#closed) throw new DurableError('connection', 'client closed');
    if (this.#pending.size >= this.maxPending) {
      throw new DurableError('connection', `too many calls waiting for an answer (${this.maxPending}); retry later`);
    }
    const token = String(this.#next++);
    let settle!: Pending<T>;
    const promise = new Promise<T>((resolve, reject) => {
      settle = { resolve, reject, cancelTimer: () => undefined };
    });
    const clock = this.fabric.clock;
    settle.cancelTimer = clock.setTimer(clock.now() + timeoutMs, () => {
      if (this.#pending.delete(token)) settle.reject(onTimeout());
    });
    this.#pending.set(token, settle);
    return {
      subject: this.prefix + token,
      promise,
      cancel: (reason) => {
        const p = this.#pending.get(token);
        if (!p) return;
        this.#pending.delete(token);
        p.cancelTimer();
        p.reject(reason);
      },
    };
  }

  /** Rejects everything pending with `connection` and stops listening. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.sub?.stop();
    for (const p of this.#pending.values()) {
      p.cancelTimer();
      p.reject(new DurableError('connection', 'client closed'));
    }
    this.#pending.clear();
  }

  #onReply(m: CoreMessage): void {
    const token = m.subject.slice(this.prefix.length);
    const p = this.#pending.get(token);
    if (!p) return; // late (after its deadline), or not ours
    this.#pending.delete(token);
    p.cancelTimer();
    try {
      p.resolve(this.decode(m));
    } catch (e) {
      p.reject(new DurableError('connection', 'unreadable call reply', { cause: e }));
    }
  }
}
