/**
 * A durable pull consumer of the in-memory fabric (activity work items, raw starts).
 *
 * Invariants: an item is held by at most one delivery at a time; an unsettled delivery is given
 * again after the ack wait (restarted by `working()`) or after a nak's delay, on the store's
 * clock, with its delivery count increased; redeliveries go before new items; an acked (or
 * termed) item is never delivered again and leaves a work-queue stream. As in JetStream, a
 * settlement names the item, not the delivery: a late ack of a lapsed delivery still settles it.
 */
import type { CancelTimer, Clock } from '../core/clock.js';
import type { StoredMessage, WorkItem, WorkQueue } from '../store/fabric.js';
import type { MemoryStream } from './memory-streams.js';

interface Held {
  deliveries: number;
  cancel: CancelTimer | undefined;
  /** Delivered and not settled (false while a nak's delay runs or once the ack wait lapsed). */
  out: boolean;
}

interface Waiter {
  max: number;
  resolve: (items: WorkItem[]) => void;
  done: () => void;
}

export class MemoryWorkQueue implements WorkQueue {
  /** Highest sequence handed out for the first time. */
  #delivered = 0;
  /** Every sequence up to this one was looked at: none after #delivered matched the filter. */
  #scanned = 0;
  readonly #held = new Map<number, Held>();
  /** Sequences due for redelivery, ascending. */
  #ready: number[] = [];
  readonly #waiters: Waiter[] = [];

  constructor(
    private readonly stream: MemoryStream,
    readonly name: string,
    public options: { filter: string; ackWaitMs: number },
    private readonly clock: Clock,
    /** Clock of pull expiries (transport, not engine time): see MemoryStore's `pullClock`. */
    private readonly pullClock: Clock = clock,
  ) {
    stream.listeners.add(() => this.#serve());
  }

  fetch(max: number, options: { expiresMs?: number; signal?: AbortSignal } = {}): AsyncIterable<WorkItem> {
    const deadline = this.pullClock.now() + (options.expiresMs ?? 30_000);
    const pull = (n: number) => this.#pull(n, { expiresMs: deadline - this.pullClock.now(), ...(options.signal ? { signal: options.signal } : {}) });
    return {
      async *[Symbol.asyncIterator]() {
        let left = Math.max(1, max);
        while (left > 0) {
          const items = await pull(left);
          if (items.length === 0) return;
          left -= items.length;
          yield* items;
        }
      },
    };
  }

  /** Up to `max` items: at once if any is available, else the first ones to come, or [] at expiry. */
  #pull(max: number, options: { expiresMs: number; signal?: AbortSignal }): Promise<WorkItem[]> {
    const now = this.#take(Math.max(1, max));
    if (now.length > 0 || options.signal?.aborted || options.expiresMs <= 0) return Promise.resolve(now);
    return new Promise<WorkItem[]>((resolve) => {
      const cancel = this.pullClock.setTimer(this.pullClock.now() + Math.max(0, options.expiresMs), () => finish([]));
      const onAbort = () => finish([]);
      const waiter: Waiter = { max: Math.max(1, max), resolve: (items) => finish(items), done: () => undefined };
      const finish = (items: WorkItem[]) => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        cancel();
        options.signal?.removeEventListener('abort', onAbort);
        resolve(items);
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  async info(): Promise<{ pending: number; ackPending: number }> {
    return { pending: this.stream.count(this.options.filter, this.#delivered), ackPending: this.#held.size };
  }

  /** Items delivered more than once and not yet settled (NATS: num_redelivered). */
  redelivered(): number {
    let n = 0;
    for (const h of this.#held.values()) if (h.deliveries > 1) n++;
    return n;
  }

  /** Gives waiting pullers what is available now. */
  #serve(): void {
    while (this.#waiters.length > 0) {
      const items = this.#take(this.#waiters[0]!.max);
      if (items.length === 0) return;
      this.#waiters[0]!.resolve(items);
    }
  }

  #take(max: number): WorkItem[] {
    const out: WorkItem[] = [];
    while (out.length < max && this.#ready.length > 0) {
      const seq = this.#ready.shift()!;
      const m = this.stream.get(seq);
      if (m) out.push(this.#deliver(m));
      else this.#held.delete(seq); // removed meanwhile (purged, expired)
    }
    while (out.length < max) {
      const m = this.stream.next(this.options.filter, Math.max(this.#delivered, this.#scanned) + 1);
      if (!m) {
        this.#scanned = this.stream.lastSeq; // other subjects' items are not looked at again
        break;
      }
      this.#delivered = m.seq;
      out.push(this.#deliver(m));
    }
    return out;
  }

  #deliver(m: StoredMessage): WorkItem {
    const held = this.#held.get(m.seq) ?? { deliveries: 0, cancel: undefined, out: false };
    held.deliveries++;
    held.out = true;
    this.#held.set(m.seq, held);
    this.#arm(m.seq, held, this.options.ackWaitMs);
    const current = () => this.#held.get(m.seq) === held;
    const settle = () => {
      if (!current()) return;
      held.cancel?.();
      this.#held.delete(m.seq);
      this.#ready = this.#ready.filter((s) => s !== m.seq);
      if (this.stream.config.workQueue) this.stream.remove(new Set([m.seq]));
    };
    return {
      ...m,
      deliveryCount: held.deliveries,
      ack: settle,
      term: settle,
      working: () => {
        if (current() && !this.#ready.includes(m.seq)) this.#arm(m.seq, held, this.options.ackWaitMs);
      },
      nak: (delayMs = 0) => {
        if (!current() || this.#ready.includes(m.seq)) return;
        held.out = false;
        this.#arm(m.seq, held, delayMs);
      },
    };
  }

  /** (Re)starts the timer after which the item is delivered again. */
  #arm(seq: number, held: Held, afterMs: number): void {
    held.cancel?.();
    held.cancel = this.clock.setTimer(this.clock.now() + Math.max(0, afterMs), () => {
      held.cancel = undefined;
      held.out = false;
      this.#ready.push(seq);
      this.#ready.sort((a, b) => a - b);
      this.#serve();
    });
  }

  /**
   * No delivery outstanding and nothing deliverable to a waiting puller (the test kit's idle
   * detection): items waiting only for a nak's delay count as quiet, they wait on the clock.
   */
  isQuiet(): boolean {
    for (const h of this.#held.values()) if (h.out) return false;
    if (this.#waiters.length === 0) return true;
    return this.#ready.length === 0 && !this.stream.next(this.options.filter, Math.max(this.#delivered, this.#scanned) + 1);
  }

  /** Stops every timer (the store is dropped). */
  close(): void {
    for (const h of this.#held.values()) h.cancel?.();
    for (const w of this.#waiters.splice(0)) w.resolve([]);
  }
}
