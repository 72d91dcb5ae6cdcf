/**
 * SignalBatcher: signals to the same entity issued in the same turn of the caller's code (before
 * the microtask queue drains) become one inbox message `{ "b": [signal, ...] }`: one store, one
 * PubAck and one delivery for all of them, which is where a hot producer's time went (a producer
 * with 1,024 signals in flight issues hundreds per PubAck that comes back). A signal alone is
 * sent as it always was. This is the producer-side batching of Kafka's clients, without a linger:
 * nothing waits for a timer.
 *
 * Invariants: each signal's promise settles with its message's PubAck (durable) or its error;
 * signals of one entity keep their order (one message, in order; messages of one subject are
 * sent in order); flush() sends everything pending at once, so a publish that must come after
 * earlier signals (a call, observing them) is ordered after them on the connection; a message
 * never exceeds `maxBytes`.
 */
import type { PubAck } from '../store/fabric.js';

interface Pending {
  /** JSON of each signal body, in order. */
  bodies: string[];
  /** Sum of the bodies' lengths (UTF-16 units; see maxBytes). */
  length: number;
  settle: Array<{ resolve: () => void; reject: (e: unknown) => void }>;
}

const utf8 = new TextEncoder();
const OPEN = '{"b":[';
const CLOSE = ']}';

export class SignalBatcher {
  private readonly pending = new Map<string, Pending>();
  private scheduled = false;

  constructor(
    /** Publishes one encoded message (the fabric's publish with the client's checks). */
    private readonly send: (subject: string, data: Uint8Array) => Promise<PubAck>,
    /** Largest message in bytes; a body's UTF-16 length x 3 bounds its UTF-8 size. */
    private readonly maxBytes: number,
    /** Most signals per message (the worker applies a message's signals in one go). */
    private readonly maxSignals = 256,
  ) {}

  /** Queues a signal (`json`: its body, already encoded as JSON text); resolves once it is durable. */
  add(subject: string, json: string): Promise<void> {
    let batch = this.pending.get(subject);
    // Would not fit: what is pending for this entity goes first, in order.
    if (batch && (batch.bodies.length >= this.maxSignals || (batch.length + json.length + OPEN.length + CLOSE.length + batch.bodies.length) * 3 > this.maxBytes)) {
      this.sendBatch(subject, batch);
      batch = undefined;
    }
    if (!batch) {
      batch = { bodies: [], length: 0, settle: [] };
      this.pending.set(subject, batch);
    }
    batch.bodies.push(json);
    batch.length += json.length;
    const done = new Promise<void>((resolve, reject) => batch.settle.push({ resolve, reject }));
    if (!this.scheduled) {
      this.scheduled = true;
      // After the microtasks already queued: the continuations of callers woken by the same
      // PubAck run first and add their signals to this batch.
      queueMicrotask(() => this.flush());
    }
    return done;
  }

  /** Sends everything pending now. */
  flush(): void {
    this.scheduled = false;
    if (this.pending.size === 0) return;
    for (const [subject, batch] of this.pending) this.sendBatch(subject, batch);
  }

  private sendBatch(subject: string, batch: Pending): void {
    this.pending.delete(subject);
    const text = batch.bodies.length === 1 ? batch.bodies[0]! : `${OPEN}${batch.bodies.join(',')}${CLOSE}`;
    let sent: Promise<PubAck>;
    try {
      sent = this.send(subject, utf8.encode(text));
    } catch (e) {
      sent = Promise.reject(e);
    }
    sent.then(
      () => {
        for (const s of batch.settle) s.resolve();
      },
      (e: unknown) => {
        for (const s of batch.settle) s.reject(e);
      },
    );
  }
}
