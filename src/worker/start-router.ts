/**
 * StartRouter: turns raw producer starts (`startSubject(hub, name)`, body `{ instanceId?, input? }`)
 * into ExecutionStarted messages on the instance's partition inbox. A shared durable consumer:
 * any one worker routes each start.
 *
 * Invariants: a start is acked only after it is on the instance inbox; the forwarded start is
 * 'ifNotExists', so an event delivered twice starts one instance (the producer's correlation key
 * is the instance id); a malformed start is dead-lettered, never retried forever.
 */
import type { Logger } from 'pino';
import { decodeJson, encodeJson } from '../core/codec.js';
import { decodeToken } from '../core/encoding.js';
import { deadLetterSubject, instanceInboxSubject } from '../core/topology.js';
import { traceFromNatsHeaders } from '../core/tracing.js';
import { uuidV5 } from '../orchestration/guid.js';
import { instanceMessages, rawStartSchema } from '../orchestration/messages.js';
import type { WorkItem, WorkQueue } from '../store/fabric.js';
import type { Hub } from '../store/hub.js';
import { withStartupRetry, type StartupRetryOptions } from '../store/startup.js';

const DURABLE = 'start-router';
/** A start routed but not yet acked is delivered again after this (fabric clock). */
const ACK_WAIT_MS = 30_000;
/** Starts being routed at once, at most (each pull asks for the room left). */
const MAX_IN_FLIGHT = 256;
const PULL_EXPIRES_MS = 5_000;
const PULL_RETRY_MS = 1_000;

export class StartRouter {
  private readonly stopping = new AbortController();
  private loopDone: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private room: (() => void) | undefined;

  constructor(
    private readonly hub: Hub,
    private readonly logger: Logger,
  ) {}

  /** Creates or binds the shared consumer, retrying transient errors until the start-up deadline. */
  async start(startup?: StartupRetryOptions): Promise<void> {
    const { fabric, names } = this.hub;
    const queue = await withStartupRetry(`consumer ${DURABLE}`, () => fabric.workQueue(names.startStream, DURABLE, { ackWaitMs: ACK_WAIT_MS }), startup);
    this.loopDone = this.loop(queue).catch((err) => this.logger.error({ err }, 'start router stopped'));
  }

  /** Starts being routed (the test kit's idle detection). */
  get busy(): boolean {
    return this.inFlight.size > 0;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.room?.();
    await this.loopDone;
    await Promise.allSettled([...this.inFlight]); // each ends acked or nak'ed
  }

  /** Pulls starts while fewer than MAX_IN_FLIGHT are being routed; each is routed concurrently. */
  private async loop(queue: WorkQueue): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      if (this.inFlight.size >= MAX_IN_FLIGHT) {
        await new Promise<void>((resolve) => (this.room = resolve));
        this.room = undefined;
        continue;
      }
      try {
        for await (const m of queue.fetch(MAX_IN_FLIGHT - this.inFlight.size, { expiresMs: PULL_EXPIRES_MS, signal })) {
          if (signal.aborted) {
            m.nak();
            continue;
          }
          const p = this.route(m).finally(() => {
            this.inFlight.delete(p);
            this.room?.();
          });
          this.inFlight.add(p);
        }
      } catch (err) {
        if (signal.aborted) break;
        this.logger.warn({ err: (err as Error).message }, 'start pull failed; retrying');
        await this.hub.fabric.clock.sleep(PULL_RETRY_MS, signal).catch(() => undefined);
      }
    }
  }

  private async route(m: WorkItem): Promise<void> {
    const prefix = `${this.hub.names.hub}.start.`;
    let name: string;
    let body: { instanceId?: string; input?: unknown };
    try {
      name = decodeToken(m.subject.slice(prefix.length)).toLowerCase();
      const check = rawStartSchema.safeParse(m.data.length ? decodeJson(m.data) : {});
      if (!check.success) throw new Error(check.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
      body = check.data;
    } catch (e) {
      await this.park(m, `malformed start: ${(e as Error).message}`);
      return;
    }
    // No id given: derive one from the stream sequence, so a redelivery routes to the same id.
    const instanceId = body.instanceId ?? uuidV5(`${this.hub.names.hub}|start|${m.seq}`).replaceAll('-', '');
    const trace = traceFromNatsHeaders(m.headers); // a raw producer's traceparent: the run joins its trace
    const started = instanceMessages.started({ name, instanceId, mode: 'ifNotExists', ...(body.input === undefined ? {} : { input: body.input }) });
    try {
      await this.hub.fabric.publish(instanceInboxSubject(this.hub.names.hub, instanceId, this.hub.config.partitions), encodeJson(started), {
        msgId: `start:${m.seq}`,
        ...(trace ? { headers: trace } : {}),
      });
      m.ack();
    } catch (err) {
      this.logger.warn({ err, instanceId }, 'start routing failed; will retry');
      m.nak(1_000);
    }
  }

  private async park(m: WorkItem, reason: string): Promise<void> {
    this.logger.warn({ subject: m.subject, seq: m.seq, reason }, 'start dead-lettered');
    try {
      await this.hub.fabric.publish(deadLetterSubject(this.hub.names.hub, 'start'), m.data, {
        msgId: `dlq-start:${m.seq}`,
        headers: { 'Dn-Reason': reason.slice(0, 1000), 'Dn-Subject': m.subject },
      });
      m.ack();
    } catch {
      m.nak(1_000);
    }
  }
}
