/**
 * SignalBatcher: the plain signals a client issues in one turn of the caller's code (before the
 * microtask queue drains) travel together, per partition: to one entity as one message
 * `{ "b": [signal, ...] }` on the entity's subject; to several entities of a partition as one
 * message `{ "m": [[actorToken, [signal, ...]], ...] }` on the partition's batch subject
 * `<hub>.in.<p>.b`. One store, one PubAck and one delivery for all of them, which is where a busy
 * producer's time went (with 1,024 signals in flight, hundreds are issued per PubAck that comes
 * back). A signal alone is sent as it always was. This is the producer-side batching of Kafka's
 * clients, without a linger: nothing waits for a timer.
 *
 * Invariants: each signal's promise settles with its message's PubAck (durable) or its error;
 * signals of one entity keep their order (in order within a message; one open batch per
 * partition, and messages are sent in order on one connection, so the partition's inbox stores
 * them in order); flush() sends everything pending at once, so a publish that must come after
 * earlier signals (a call, observing them) is ordered after them; a message stays under
 * `maxBytes`.
 */
import type { PubAck } from '../store/fabric.js';

/** Where one entity's signals go: its own subject, its actor token, its partition's batch subject. */
export interface SignalRoute {
  subject: string;
  token: string;
  partitionSubject: string;
}

interface Pending {
  /** Per entity (actor token), in first-signal order: its route and its signals' JSON. */
  entities: Map<string, { route: SignalRoute; bodies: string[] }>;
  count: number;
  /** Sum of the JSON lengths (UTF-16 units; x 3 bounds the bytes). */
  length: number;
  settle: Array<{ resolve: () => void; reject: (e: unknown) => void }>;
}

const utf8 = new TextEncoder();
/** Bytes of a message's framing per entity (token, brackets, commas), generously. */
const FRAMING = 64;

export class SignalBatcher {
  private readonly pending = new Map<string, Pending>();
  private scheduled = false;

  constructor(
    /** Publishes one encoded message (the fabric's publish with the client's checks). */
    private readonly send: (subject: string, data: Uint8Array) => Promise<PubAck>,
    /** Largest message in bytes. */
    private readonly maxBytes: number,
    /** Most signals per message (the worker applies a message's signals in one go). */
    private readonly maxSignals = 256,
  ) {}

  /** Queues a signal (`json`: its body as JSON text); resolves once it is durable. */
  add(route: SignalRoute, json: string): Promise<void> {
    const key = route.partitionSubject;
    let batch = this.pending.get(key);
    // Would not fit: what is pending for this partition goes first, in order.
    if (batch && (batch.count >= this.maxSignals || (batch.length + json.length + FRAMING * (batch.entities.size + 1)) * 3 > this.maxBytes)) {
      this.sendBatch(key, batch);
      batch = undefined;
    }
    if (!batch) {
      batch = { entities: new Map(), count: 0, length: 0, settle: [] };
      this.pending.set(key, batch);
    }
    let entity = batch.entities.get(route.token);
    if (!entity) batch.entities.set(route.token, (entity = { route, bodies: [] }));
    entity.bodies.push(json);
    batch.count++;
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
    for (const [key, batch] of this.pending) this.sendBatch(key, batch);
  }

  private sendBatch(key: string, batch: Pending): void {
    this.pending.delete(key);
    let subject: string;
    let text: string;
    if (batch.entities.size === 1) {
      const { route, bodies } = batch.entities.values().next().value!;
      subject = route.subject;
      text = bodies.length === 1 ? bodies[0]! : `{"b":[${bodies.join(',')}]}`;
    } else {
      subject = key;
      const parts: string[] = [];
      for (const [token, { bodies }] of batch.entities) parts.push(`[${JSON.stringify(token)},[${bodies.join(',')}]]`);
      text = `{"m":[${parts.join(',')}]}`;
    }
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
