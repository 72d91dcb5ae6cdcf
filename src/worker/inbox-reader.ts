/**
 * InboxReader: reads one partition's inbox, in stream order, into a bounded buffer that the batch
 * loop takes from, through the fabric's `follow` from the checkpoint on.
 *
 * Invariants:
 * - messages reach the buffer in inbox order, each once (the port's follow keeps that across a
 *   lost server node: on NATS, src/store/nats-follow.ts replaces a stalled reader, or one placed
 *   on a follower replica, after the highest sequence delivered);
 * - the buffer is bounded in messages and in bytes (a batch of signals is one message of up to
 *   ~64 KB): a full buffer hands the follow a promise (backpressure) that settles when the batch
 *   loop has drained it below half of both bounds or the reader stops; below the bounds nothing
 *   is awaited per message.
 */
import type { Logger } from 'pino';
import { inboxFilter } from '../core/topology.js';
import { traceFromNatsHeaders } from '../core/tracing.js';
import type { Stoppable, StoredMessage } from '../store/fabric.js';
import type { Hub } from '../store/hub.js';
import type { InboxMessage } from './actor-host.js';

export interface InboxReaderOptions {
  hub: Hub;
  partition: number;
  logger: Logger;
  /** Called whenever new messages are buffered. */
  onMessages: () => void;
  maxBuffer?: number;
  /** Bound of the buffered payload bytes (default 8 MiB). */
  maxBufferBytes?: number;
}

const DEFAULT_MAX_BUFFER = 20_000;
const DEFAULT_MAX_BUFFER_BYTES = 8 * 1024 * 1024;

export class InboxReader {
  private buffer: InboxMessage[] = [];
  private follow: Stoppable | undefined;
  private stopped = false;
  /** Resolvers of the follow waiting for room in the buffer. */
  private waitingForRoom: Array<() => void> = [];
  private readonly maxBuffer: number;
  private readonly maxBytes: number;
  /** Payload bytes in the buffer. */
  private bytes = 0;
  private readonly prefixLength: number;

  constructor(private readonly o: InboxReaderOptions) {
    this.maxBuffer = o.maxBuffer ?? DEFAULT_MAX_BUFFER;
    this.maxBytes = o.maxBufferBytes ?? DEFAULT_MAX_BUFFER_BYTES;
    this.prefixLength = `${o.hub.names.hub}.in.${o.partition}.`.length;
  }

  get size(): number {
    return this.buffer.length;
  }

  /** Starts reading after `afterSeq` (the checkpoint). */
  async start(afterSeq: number): Promise<void> {
    const { hub } = this.o;
    const follow = await hub.fabric.follow(hub.names.inboxStream, inboxFilter(hub.names.hub, this.o.partition), afterSeq + 1, this.onMessage);
    if (this.stopped) follow.stop();
    else this.follow = follow;
  }

  /**
   * The first buffered messages, at most `max` of them and, past the first, at most `maxBytes` of
   * payload (a message may hold a batch of signals for many actors: the batch loop prepares and
   * appends every actor of a batch at once). Not removed: see `consumed`.
   */
  peek(max: number, maxBytes = Number.POSITIVE_INFINITY): InboxMessage[] {
    let n = 0;
    let bytes = 0;
    const limit = Math.min(max, this.buffer.length);
    while (n < limit) {
      bytes += this.buffer[n]!.data.length;
      if (n > 0 && bytes > maxBytes) break;
      n++;
    }
    return this.buffer.slice(0, n);
  }

  /** Removes the first `n` buffered messages (their batch is done) and lets a paused follow go on. */
  consumed(n: number): void {
    for (const m of this.buffer.splice(0, n)) this.bytes -= m.data.length;
    if (this.buffer.length < this.maxBuffer / 2 && this.bytes < this.maxBytes / 2) this.releaseWaiters();
  }

  stop(): void {
    this.stopped = true;
    this.follow?.stop();
    this.buffer = [];
    this.bytes = 0;
    this.releaseWaiters();
  }

  private releaseWaiters(): void {
    const waiters = this.waitingForRoom;
    this.waitingForRoom = [];
    for (const resolve of waiters) resolve();
  }

  /** One message of the follow: buffered; a promise only when the buffer is full. */
  private readonly onMessage = (m: StoredMessage): Promise<void> | undefined => {
    if (this.stopped) return undefined;
    const headers = m.headers;
    const message: InboxMessage = { seq: m.seq, subject: m.subject, actorToken: m.subject.slice(this.prefixLength), data: m.data };
    if (headers) {
      const msgId = headers.get('Nats-Msg-Id');
      if (msgId) message.msgId = msgId;
      const trace = traceFromNatsHeaders(headers); // the producer's trace context, for the span of the work it causes
      if (trace) message.trace = trace;
    }
    this.buffer.push(message);
    this.bytes += m.data.length;
    this.o.onMessages();
    if (this.buffer.length < this.maxBuffer && this.bytes < this.maxBytes) return undefined;
    return new Promise<void>((resolve) => this.waitingForRoom.push(resolve));
  };
}
