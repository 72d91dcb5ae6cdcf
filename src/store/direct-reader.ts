/**
 * DirectReader: many concurrent "last message of subject" reads (DIRECT.GET; streams have
 * allow_direct) over one reply subscription: a batch that loads thousands of entities at once
 * should not pay nats.js's per-request timer and mux.
 * Invariant: resolves with the stored message or null (404); anything else rejects.
 */
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { encodeJson } from '../core/codec.js';
import { DurableError } from '../core/errors.js';
import type { StoredMessage } from './event-log.js';
import { ReplyMux } from './reply-mux.js';

function decodeDirectGet(msg: Msg, subject: string): StoredMessage | null {
  const h = msg.headers;
  if (!h || h.code === 404) return null;
  if (h.code && h.code >= 400) throw new DurableError('connection', `reading ${subject}: ${h.code} ${h.description}`);
  const time = h.get('Nats-Time-Stamp');
  return { seq: Number(h.get('Nats-Sequence')), subject: h.get('Nats-Subject') || subject, data: msg.data, ...(time ? { time: Date.parse(time) } : {}) };
}

export class DirectReader {
  private readonly mux: ReplyMux<StoredMessage | null>;

  constructor(
    private readonly nc: NatsConnection,
    private readonly stream: string,
    private readonly timeoutMs = 5_000,
  ) {
    this.mux = new ReplyMux(nc, decodeDirectGet, 'reading');
  }

  readLast(subject: string): Promise<StoredMessage | null> {
    return this.get({ last_by_subj: subject });
  }

  /**
   * Any DIRECT.GET request: `{ last_by_subj }`, `{ seq }`, `{ seq, next_by_subj }`. Resolves with
   * the message (with its stored time) or null.
   */
  get(request: { last_by_subj?: string; seq?: number; next_by_subj?: string }): Promise<StoredMessage | null> {
    const what = request.last_by_subj ?? request.next_by_subj ?? `${this.stream} #${request.seq}`;
    return this.mux.exchange(what, this.timeoutMs, (reply) => this.nc.publish(`$JS.API.DIRECT.GET.${this.stream}`, encodeJson(request), { reply }));
  }

  close(): void {
    this.mux.close();
  }
}
