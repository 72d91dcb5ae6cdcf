/**
 * ReplyMux: many concurrent request/reply exchanges over one wildcard reply subscription, with
 * one interval sweeping deadlines. The shared core of LeanPublisher and NatsFabric's DIRECT.GET reads: nats.js's
 * request path costs a timer and a mux lookup per call, which dominates at tens of thousands of
 * calls per second.
 * Invariant: every registered exchange settles exactly once: by its reply, its deadline or close().
 */
import { createInbox, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { DurableError } from '../core/errors.js';

interface Pending<T> {
  resolve: (value: T) => void;
  reject: (e: Error) => void;
  deadline: number;
  subject: string;
}

export class ReplyMux<T> {
  private readonly prefix = `${createInbox()}.`;
  private readonly sub: Subscription;
  private readonly pending = new Map<number, Pending<T>>();
  private next = 1;
  private readonly sweeper: NodeJS.Timeout;

  /** `decode` turns a reply into the result, or throws to reject with that error. */
  constructor(
    nc: NatsConnection,
    private readonly decode: (msg: Msg, subject: string) => T,
    private readonly describe: string,
  ) {
    this.sub = nc.subscribe(`${this.prefix}*`, { callback: (err, msg) => this.onReply(err, msg) });
    this.sweeper = setInterval(() => this.sweep(), 200);
    this.sweeper.unref();
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Registers an exchange and calls `send(replySubject)`; resolves with the decoded reply. */
  exchange(subject: string, timeoutMs: number, send: (reply: string) => void): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, deadline: Date.now() + timeoutMs, subject });
      try {
        send(`${this.prefix}${id}`);
      } catch (e) {
        this.pending.delete(id);
        reject(new DurableError('connection', `${this.describe} ${subject} failed: ${(e as Error).message}`, { cause: e }));
      }
    });
  }

  private onReply(err: Error | null, msg: Msg): void {
    if (err) {
      // The reply subscription itself failed (e.g. a permissions violation): nothing pending
      // can be answered any more; fail them now rather than at their deadlines.
      for (const p of this.pending.values()) p.reject(new DurableError('connection', `${this.describe} ${p.subject}: reply subscription failed: ${err.message}`, { cause: err }));
      this.pending.clear();
      return;
    }
    const id = Number(msg.subject.slice(this.prefix.length));
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    try {
      p.resolve(this.decode(msg, p.subject));
    } catch (e) {
      p.reject(e as Error);
    }
  }

  private sweep(): void {
    if (this.pending.size === 0) return;
    const now = Date.now();
    for (const [id, p] of this.pending) {
      if (p.deadline > now) continue;
      this.pending.delete(id);
      p.reject(new DurableError('timeout', `no answer to ${this.describe} ${p.subject} in time`));
    }
  }

  close(): void {
    clearInterval(this.sweeper);
    this.sub.unsubscribe();
    for (const p of this.pending.values()) p.reject(new DurableError('connection', `${this.describe} closed`));
    this.pending.clear();
  }
}
