/** Fault injection for the publish path: a LeanPublisher that fails chosen publishes. */
import { DurableError } from '../../src/core/errors.js';
import type { Fabric } from '../../src/store/fabric.js';
import { LeanPublisher, type LeanPublishOptions, type PubAck } from '../../src/store/lean-publisher.js';

export type Fault = {
  match: (subject: string, options: LeanPublishOptions) => boolean;
  /** 'no-ack': nothing stored, the publish times out; 'lost-ack': stored, but the PubAck never comes. */
  mode: 'no-ack' | 'lost-ack';
  remaining: number;
};

/** Fails matching publishes, each fault `remaining` times. */
export class FaultyPublisher extends LeanPublisher {
  readonly faults: Fault[] = [];
  override publish(subject: string, data: Uint8Array, options: LeanPublishOptions = {}): Promise<PubAck> {
    const fault = this.faults.find((f) => f.remaining > 0 && f.match(subject, options));
    if (!fault) return super.publish(subject, data, options);
    fault.remaining--;
    if (fault.mode === 'no-ack') {
      return new Promise((_, reject) => setTimeout(() => reject(new DurableError('timeout', `injected: no PubAck for ${subject}`)), 30));
    }
    return super.publish(subject, data, options).then(() => {
      throw new DurableError('timeout', `injected: PubAck lost for ${subject}`);
    });
  }
}

/** `fabric` with its stream publishes going through `faulty` (everything else untouched). */
export function withFaultyPublish(fabric: Fabric, faulty: FaultyPublisher): Fabric {
  return new Proxy(fabric, {
    get(target, key) {
      if (key === 'publish') return faulty.publish.bind(faulty);
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
