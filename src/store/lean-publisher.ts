/**
 * LeanPublisher: JetStream publish without the official client's per-publish overhead.
 * Publishes with core `nc.publish` and one wildcard reply subscription, and parses PubAcks itself
 * (JETSTREAM-LIMITS.md: 4-5x the throughput of `js.publish`, which costs a core per 16k msgs/s).
 *
 * Invariant: a returned promise resolves only with the server's PubAck (the message is stored),
 * and rejects with a DurableError on a JetStream error, no responders, or timeout; a wrong-last-
 * sequence error (the fence) rejects with code 'fenced'.
 *
 * The fence on a replicated stream: nats-server before 2.9.21 checks an expected last subject
 * sequence > 0 only when the leader proposes the message, against its store, which does not hold
 * the proposals still in flight; concurrent appends on the same base were all stored
 * (test/integration/server-fence.test.ts; fixed upstream by nats-io/nats-server 244dda809,
 * which checks again when the entry is applied). So a fenced append also carries the message id
 * `dn-after:<expected>`: the server's dedupe runs when entries are applied, in log order on every
 * replica, so a second successor of the same base is a duplicate, reported here as 'fenced'.
 */
import { headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { DurableError } from '../core/errors.js';
import { ReplyMux } from './reply-mux.js';

export interface PubAck {
  stream: string;
  seq: number;
  duplicate: boolean;
}

export interface LeanPublishOptions {
  msgId?: string;
  /** The fence: publish only if the subject's last sequence is this (0 = subject must be empty). */
  expectedLastSubjectSequence?: number;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

const WRONG_LAST_SEQUENCE = 10071;
const decoder = new TextDecoder();

function decodePubAck(msg: Msg, subject: string): PubAck {
  if (msg.headers?.code === 503 || (msg.data.length === 0 && msg.headers?.hasError)) {
    // No responders: no stream captures the subject, or (a cluster electing, a stream just
    // created) its leader does not answer yet: transient for start-up steps, which retry it
    // until their deadline (src/store/startup.ts), as they retry nats.js's timeouts.
    throw new DurableError('connection', `no JetStream stream captures '${subject}' (is the hub created and the server JetStream-enabled?)`, {
      details: { transient: true },
    });
  }
  let reply: { error?: { err_code?: number; description?: string }; stream: string; seq: number; duplicate?: boolean };
  try {
    reply = JSON.parse(decoder.decode(msg.data));
  } catch (e) {
    throw new DurableError('connection', `unreadable PubAck for ${subject}`, { cause: e });
  }
  if (reply.error) {
    const code = reply.error.err_code === WRONG_LAST_SEQUENCE ? 'fenced' : 'connection';
    // 503-class answers (no leader, temporarily unavailable) are what a forming cluster says.
    const transient = code === 'connection' && /leader|unavailable|not (yet )?(enabled|available)|incomplete/i.test(reply.error.description ?? '');
    throw new DurableError(code, `JetStream rejected publish to ${subject}: ${reply.error.description}`, { details: { errCode: reply.error.err_code, transient } });
  }
  return { stream: reply.stream, seq: reply.seq, duplicate: reply.duplicate === true };
}

/** Message id of "the successor of sequence `expected`" (a sequence names one subject's message). */
const fenceMsgId = (expected: number) => `dn-after:${expected}`;

export class LeanPublisher {
  private readonly mux: ReplyMux<PubAck>;

  constructor(
    private readonly nc: NatsConnection,
    private readonly defaultTimeoutMs = 10_000,
  ) {
    this.mux = new ReplyMux(nc, decodePubAck, 'publish to');
  }

  get inFlight(): number {
    return this.mux.inFlight;
  }

  publish(subject: string, data: Uint8Array, options: LeanPublishOptions = {}): Promise<PubAck> {
    let hdrs: MsgHdrs | undefined;
    // Expected 0 (subject must be empty) is checked at apply time by every server version; a
    // caller's own message id keeps its meaning (its duplicates are its business).
    const fenceId =
      options.msgId === undefined && options.expectedLastSubjectSequence !== undefined && options.expectedLastSubjectSequence > 0
        ? fenceMsgId(options.expectedLastSubjectSequence)
        : undefined;
    if (options.msgId !== undefined || options.expectedLastSubjectSequence !== undefined || options.headers) {
      hdrs = natsHeaders();
      if (options.msgId !== undefined) hdrs.set('Nats-Msg-Id', options.msgId);
      if (fenceId !== undefined) hdrs.set('Nats-Msg-Id', fenceId);
      if (options.expectedLastSubjectSequence !== undefined) hdrs.set('Nats-Expected-Last-Subject-Sequence', String(options.expectedLastSubjectSequence));
      if (options.headers) for (const [k, v] of Object.entries(options.headers)) hdrs.set(k, v);
    }
    const acked = this.mux.exchange(subject, options.timeoutMs ?? this.defaultTimeoutMs, (reply) => this.nc.publish(subject, data, { reply, ...(hdrs ? { headers: hdrs } : {}) }));
    if (fenceId === undefined) return acked;
    return acked.then((ack) => {
      // Another writer's message already follows the expected one (it is at ack.seq).
      if (ack.duplicate)
        throw new DurableError('fenced', `JetStream rejected publish to ${subject}: sequence ${options.expectedLastSubjectSequence} already has a successor (${ack.seq})`, {
          details: { errCode: WRONG_LAST_SEQUENCE },
        });
      return ack;
    });
  }

  close(): void {
    this.mux.close();
  }
}
