/**
 * A KV bucket behind the fabric port (KvBucket, src/store/fabric.ts). Reads and writes of single
 * keys take the fabric's lean paths: a key is the subject `$KV.<bucket>.<key>` of the stream
 * `KV_<bucket>`, so `get` is a DIRECT.GET of its last message and `put`/`create`/`update` are lean
 * publishes fenced on its revision (nats.js's KV makes each a request with its own timer and
 * error objects: several times the CPU, on the status writes of every orchestration step).
 * Listing and watching stay with nats.js.
 *
 * Invariant: the port's KV semantics: a deleted key reads as absent, `create` of an existing key
 * and `update` with a stale revision fail with DurableError `fenced` and write nothing, a watch
 * delivers the current values and then every change in revision order until stopped.
 */
import type { KV } from '@nats-io/kv';
import { DurableError } from '../core/errors.js';
import type { KvBucket, KvChange, KvEntry, PubAck, PublishOptions, Stoppable, StoredMessage } from './fabric.js';
import { asDurable } from './nats-errors.js';

/** The fabric's lean paths a bucket uses. */
export interface LeanPaths {
  readLast(stream: string, filter: string): Promise<StoredMessage | null>;
  publish(subject: string, data: Uint8Array, options?: PublishOptions): Promise<PubAck>;
}

const KV_OPERATION = 'KV-Operation';
const isDeletion = (m: StoredMessage) => {
  const op = m.headers?.get(KV_OPERATION);
  return op === 'DEL' || op === 'PURGE';
};

/** nats.js KV behind the port: deleted keys read as absent, CAS failures as `fenced`. */
export class NatsKv implements KvBucket {
  readonly #stream: string;
  readonly #prefix: string;

  constructor(
    private readonly kv: KV,
    readonly name: string,
    private readonly own: (s: Stoppable) => Stoppable,
    private readonly lean: LeanPaths,
  ) {
    this.#stream = `KV_${name}`;
    this.#prefix = `$KV.${name}.`;
  }

  async get(key: string): Promise<KvEntry | null> {
    const m = await this.lean.readLast(this.#stream, this.#subject(key));
    return m && !isDeletion(m) ? { key, value: m.data, revision: m.seq } : null;
  }

  async put(key: string, value: Uint8Array): Promise<number> {
    return (await this.lean.publish(this.#subject(key), value)).seq;
  }

  /** Fenced on "no message" first (the common case: one round trip); a deleted key is created over its tombstone. */
  async create(key: string, value: Uint8Array): Promise<number> {
    const subject = this.#subject(key);
    try {
      return (await this.lean.publish(subject, value, { expectedLastSubjectSequence: 0 })).seq;
    } catch (e) {
      if (!DurableError.is(e, 'fenced')) throw e;
      const last = await this.lean.readLast(this.#stream, subject);
      if (last && !isDeletion(last)) throw new DurableError('fenced', `key '${key}' exists in bucket ${this.name}`, { cause: e });
      return (await this.lean.publish(subject, value, { expectedLastSubjectSequence: last?.seq ?? 0 })).seq;
    }
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    return (await this.lean.publish(this.#subject(key), value, { expectedLastSubjectSequence: revision })).seq;
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

  /** nats.js's key rule: tokens of `[-/=.\w]`, no empty token (a bad key is refused before anything is sent). */
  #subject(key: string): string {
    if (typeof key !== 'string' || !/^[-/=.\w]+$/.test(key) || key.startsWith('.') || key.endsWith('.') || key.includes('..')) {
      throw new DurableError('validation', `invalid key '${String(key)}' for bucket ${this.name}`);
    }
    return this.#prefix + key;
  }
}
