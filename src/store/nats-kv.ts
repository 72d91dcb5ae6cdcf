/**
 * A nats.js KV bucket behind the fabric port (KvBucket, src/store/fabric.ts).
 *
 * Invariant: the port's KV semantics: a deleted key reads as absent, `create` of an existing key
 * and `update` with a stale revision fail with DurableError `fenced`, a watch delivers the current
 * values and then every change in revision order until stopped.
 */
import type { KV } from '@nats-io/kv';
import { DurableError } from '../core/errors.js';
import type { KvBucket, KvChange, KvEntry, Stoppable } from './fabric.js';
import { asDurable } from './nats-errors.js';

/** nats.js KV behind the port: deleted keys read as absent, CAS failures as `fenced`. */
export class NatsKv implements KvBucket {
  constructor(
    private readonly kv: KV,
    readonly name: string,
    private readonly own: (s: Stoppable) => Stoppable,
  ) {}

  async get(key: string): Promise<KvEntry | null> {
    try {
      const e = await this.kv.get(key);
      return e && e.operation === 'PUT' ? { key, value: e.value, revision: e.revision } : null;
    } catch (e) {
      throw asDurable(e, `get ${this.name}/${key}`);
    }
  }

  async put(key: string, value: Uint8Array): Promise<number> {
    try {
      return await this.kv.put(key, value);
    } catch (e) {
      throw asDurable(e, `put ${this.name}/${key}`);
    }
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    try {
      return await this.kv.create(key, value);
    } catch (e) {
      // nats.js says "wrong last sequence" (or, having checked itself, that the key exists).
      const exists = /exists/i.test((e as Error)?.message ?? '');
      throw exists ? new DurableError('fenced', `key '${key}' exists in bucket ${this.name}`, { cause: e }) : asDurable(e, `create ${this.name}/${key}`);
    }
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    try {
      return await this.kv.update(key, value, revision);
    } catch (e) {
      throw asDurable(e, `update ${this.name}/${key}`);
    }
  }

  async delete(key: string, options: { purge?: boolean } = {}): Promise<void> {
    try {
      await (options.purge ? this.kv.purge(key) : this.kv.delete(key));
    } catch (e) {
      throw asDurable(e, `delete ${this.name}/${key}`);
    }
  }

  async keys(filter = '>'): Promise<string[]> {
    try {
      const out: string[] = [];
      for await (const k of await this.kv.keys(filter)) out.push(k);
      return out;
    } catch (e) {
      throw asDurable(e, `keys of ${this.name}`);
    }
  }

  async watch(onChange: (c: KvChange) => void, options: { filter?: string } = {}): Promise<Stoppable> {
    const w = await this.kv.watch(options.filter ? { key: options.filter } : {}).catch((e) => {
      throw asDurable(e, `watch ${this.name}`);
    });
    void (async () => {
      for await (const e of w) {
        const c: KvChange = e.operation === 'PUT' ? { op: 'PUT', key: e.key, value: e.value, revision: e.revision } : { op: e.operation, key: e.key, revision: e.revision };
        try {
          onChange(c);
        } catch {
          /* the watcher's problem */
        }
      }
    })().catch(() => undefined);
    return this.own({ stop: () => w.stop() });
  }
}
