/**
 * StartRouter: turns raw producer starts (`startSubject(hub, name)`, body `{ instanceId?, input? }`)
 * into ExecutionStarted messages on the instance's partition inbox. A shared durable consumer:
 * any one worker routes each start.
 *
 * Invariants: a start is acked only after it is on the instance inbox; the forwarded start is
 * 'ifNotExists', so an event delivered twice starts one instance (the producer's correlation key
 * is the instance id); a malformed start is dead-lettered, never retried forever.
 */
import { instanceMessages, rawStartSchema } from '../orchestration/messages.js';
import { AckPolicy, DeliverPolicy, JetStreamApiCodes, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { decodeJson, encodeJson } from '../core/codec.js';
import { decodeToken } from '../core/encoding.js';
import { deadLetterSubject, instanceInboxSubject } from '../core/topology.js';
import { traceFromNatsHeaders } from '../core/tracing.js';
import { uuidV5 } from '../orchestration/guid.js';
import type { Hub } from '../store/hub.js';
import type { LeanPublisher } from '../store/lean-publisher.js';
import { apiErrorCode, isAlreadyExists, withStartupRetry, type StartupRetryOptions } from '../store/transient.js';

const DURABLE = 'start-router';

export class StartRouter {
  private iter: ConsumerMessages | undefined;
  private loopDone: Promise<void> | undefined;

  constructor(
    private readonly hub: Hub,
    private readonly publisher: LeanPublisher,
    private readonly logger: Logger,
  ) {}

  /** Creates or binds the shared consumer, retrying transient errors until the start-up deadline. */
  async start(startup?: StartupRetryOptions): Promise<void> {
    const { jsm, js, names } = this.hub;
    // "already in use": another worker created it between our info and add; the retry's info binds it.
    await withStartupRetry(
      `consumer ${DURABLE}`,
      async () => {
        try {
          await jsm.consumers.info(names.startStream, DURABLE);
          return;
        } catch (e) {
          // Only "consumer not found" means absent: a timeout used to be taken for it too.
          if (apiErrorCode(e) !== JetStreamApiCodes.ConsumerNotFound) throw e;
        }
        await jsm.consumers.add(names.startStream, {
          durable_name: DURABLE,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          ack_wait: 30_000_000_000,
          max_ack_pending: 10_000,
        });
      },
      { ...startup, retryAlso: isAlreadyExists },
    );
    const consumer = await withStartupRetry(`consumer ${DURABLE} lookup`, () => js.consumers.get(names.startStream, DURABLE), startup);
    this.iter = await consumer.consume({ max_messages: 256 });
    this.loopDone = (async () => {
      for await (const m of this.iter!) void this.route(m);
    })().catch((err) => this.logger.error({ err }, 'start router stopped'));
  }

  async stop(): Promise<void> {
    this.iter?.stop();
    await this.loopDone;
  }

  private async route(m: JsMsg): Promise<void> {
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
      await this.publisher.publish(instanceInboxSubject(this.hub.names.hub, instanceId, this.hub.config.partitions), encodeJson(started), {
        msgId: `start:${m.seq}`,
        ...(trace ? { headers: trace } : {}),
      });
      m.ack();
    } catch (err) {
      this.logger.warn({ err, instanceId }, 'start routing failed; will retry');
      m.nak(1_000);
    }
  }

  private async park(m: JsMsg, reason: string): Promise<void> {
    this.logger.warn({ subject: m.subject, seq: m.seq, reason }, 'start dead-lettered');
    try {
      await this.publisher.publish(deadLetterSubject(this.hub.names.hub, 'start'), m.data, {
        msgId: `dlq-start:${m.seq}`,
        headers: { 'Dn-Reason': reason.slice(0, 1000), 'Dn-Subject': m.subject },
      });
      m.ack();
    } catch {
      m.nak(1_000);
    }
  }
}
