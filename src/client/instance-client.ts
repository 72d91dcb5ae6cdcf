/**
 * The part of DurableClient shared by every method: the connection, durable publishing with a
 * size check, and (as the replay engine lands) the orchestration instance methods.
 * Invariant: nothing larger than the server's max_payload (less headroom for headers) is sent;
 * such input is a `validation` error before anything is written.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { encodeJson } from '../core/codec.js';
import { DurableError } from '../core/errors.js';
import type { Hub } from '../store/hub.js';
import type { LeanPublisher, PubAck } from '../store/lean-publisher.js';
import type { CatalogCache } from './catalog-cache.js';

/** Room left under max_payload for headers and envelope fields. */
const PAYLOAD_HEADROOM = 4_096;

export class InstanceClient {
  protected constructor(
    readonly hub: Hub,
    protected readonly nc: NatsConnection,
    protected readonly publisher: LeanPublisher,
    protected readonly catalog: CatalogCache,
  ) {}

  /** Largest JSON body accepted, in bytes. */
  get maxPayload(): number {
    return (this.nc.info?.max_payload ?? 1024 * 1024) - PAYLOAD_HEADROOM;
  }

  protected async publish(subject: string, body: unknown, msgId?: string): Promise<PubAck> {
    const data = encodeJson(body);
    if (data.length > this.maxPayload) {
      throw new DurableError('validation', `payload of ${data.length} bytes exceeds the limit of ${this.maxPayload} bytes`);
    }
    return this.publisher.publish(subject, data, msgId ? { msgId } : {});
  }

  async close(): Promise<void> {
    this.catalog.stop();
    this.publisher.close();
    await this.nc.drain().catch(() => undefined);
  }
}
