/**
 * DirectReader: many concurrent "last message of subject" reads over one wildcard reply
 * subscription (the DIRECT.GET API; streams have allow_direct). Same idea as LeanPublisher: the
 * official request path costs a timer and a mux lookup per call, which shows up when a batch
 * loads thousands of entities at once.
 * Invariant: resolves with the stored message or null (404); anything else rejects.
 */
import { createInbox, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { encodeJson } from '../core/codec.js';
import { DurableError } from '../core/errors.js';
import type { StoredMessage } from './event-log.js';

interface Pending {
  resolve: (m: StoredMessage | null) => void;
  reject: (e: Error) => void;
  deadline: number;
  subject: string;
}

export class DirectReader {
  private readonly prefix = `${createInbox()}.`;
  private readonly sub: Subscription;
  private readonly pending = new Map<number, Pending>();
  private next = 1;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly nc: NatsConnection, private readonly stream: string, private readonly timeoutMs = 5_000) {
    this.sub = nc.subscribe(`${this.prefix}*`, { callback: (err, msg) => this.onReply(err, msg) });
    this.sweeper = setInterval(() => this.sweep(), 250);
    this.sweeper.unref();
  }

  readLast(subject: string): Promise<StoredMessage | null> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, deadline: Date.now() + this.timeoutMs, subject });
      this.nc.publish(`$JS.API.DIRECT.GET.${this.stream}`, encodeJson({ last_by_subj: subject }), { reply: `${this.prefix}${id}` });
    });
  }

  private onReply(err: Error | null, msg: Msg): void {
    if (err) return;
    const id = Number(msg.subject.slice(this.prefix.length));
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    const h = msg.headers;
    if (!h || h.code === 404) return p.resolve(null);
    if (h.code && h.code >= 400) return p.reject(new DurableError('connection', `reading ${p.subject}: ${h.code} ${h.description}`));
    p.resolve({ seq: Number(h.get('Nats-Sequence')), subject: h.get('Nats-Subject') || p.subject, data: msg.data });
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, p] of this.pending) {
      if (p.deadline > now) continue;
      this.pending.delete(id);
      p.reject(new DurableError('timeout', `no answer reading ${p.subject}`));
    }
  }

  close(): void {
    clearInterval(this.sweeper);
    this.sub.unsubscribe();
    for (const p of this.pending.values()) p.reject(new DurableError('connection', 'reader closed'));
    this.pending.clear();
  }
}
