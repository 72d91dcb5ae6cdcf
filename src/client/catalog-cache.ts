/**
 * CatalogCache: the client's copy of the hub's catalog (what workers registered), kept fresh by a
 * KV watch, used to reject bad input before anything is written.
 * Invariant: a name missing from the cache is looked up once more in the bucket before it is
 * declared unknown (a worker may have registered it a moment ago).
 */
import type { KV } from '@nats-io/kv';
import { Ajv, type ValidateFunction } from 'ajv';
import { decodeJson } from '../core/codec.js';
import { DurableError } from '../core/errors.js';
import { withStartupRetry, type StartupRetryOptions } from '../store/transient.js';
import { catalogKey, type CatalogEntry } from '../worker/catalog.js';

export class CatalogCache {
  private readonly entries = new Map<string, CatalogEntry>();
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly ajv = new Ajv({ allErrors: true, strict: false });
  private watcher: Awaited<ReturnType<KV['watch']>> | undefined;

  constructor(private readonly kv: KV) {}

  /** The first watch may meet a cluster still electing: retried until the start-up deadline. */
  async start(startup?: StartupRetryOptions): Promise<void> {
    this.watcher = await withStartupRetry('catalog watch', () => this.kv.watch(), startup);
    let resolveReady!: () => void;
    const ready = new Promise<void>((r) => (resolveReady = r));
    const initialPending = this.watcher.getPending?.() ?? 0;
    if (initialPending === 0) resolveReady();
    void (async () => {
      for await (const e of this.watcher!) {
        if (e.operation === 'PUT') {
          try {
            this.set(decodeJson<CatalogEntry>(e.value));
          } catch {
            /* ignore foreign keys */
          }
        }
        if (e.delta === 0) resolveReady();
      }
    })().catch(() => undefined);
    await Promise.race([ready, new Promise((r) => setTimeout(r, 2_000))]);
  }

  stop(): void {
    this.watcher?.stop();
  }

  private set(entry: CatalogEntry): void {
    const key = catalogKey(entry.kind, entry.name);
    this.entries.set(key, entry);
    for (const k of [...this.validators.keys()]) if (k.startsWith(`${key}#`)) this.validators.delete(k);
  }

  async get(kind: CatalogEntry['kind'], name: string): Promise<CatalogEntry | undefined> {
    const key = catalogKey(kind, name);
    const hit = this.entries.get(key);
    if (hit) return hit;
    const e = await this.kv.get(key);
    if (e?.operation !== 'PUT' || e.length === 0) return undefined;
    const entry = decodeJson<CatalogEntry>(e.value);
    this.set(entry);
    return entry;
  }

  async requireOrchestration(name: string): Promise<void> {
    if (!(await this.get('orchestration', name))) {
      throw new DurableError('validation', `unknown orchestration '${name}': no worker of this hub registered it`);
    }
  }

  /** Throws DurableError('validation') unless the entity and operation exist and the input fits. */
  async validateOperation(entityName: string, op: string, input: unknown): Promise<void> {
    const entry = await this.get('entity', entityName);
    if (!entry) throw new DurableError('validation', `unknown entity '${entityName}': no worker of this hub registered it`);
    const opName = op.toLowerCase();
    const opEntry = entry.operations?.[opName];
    if (!opEntry) {
      throw new DurableError('validation', `entity '${entityName}' has no operation '${op}' (it has: ${Object.keys(entry.operations ?? {}).join(', ')})`);
    }
    if (opEntry.input === null || opEntry.input === undefined) return;
    const vkey = `${catalogKey('entity', entityName)}#${opName}`;
    let validate = this.validators.get(vkey);
    if (!validate) {
      const schema = { ...(opEntry.input as object) } as Record<string, unknown>;
      delete schema.$schema; // ajv's default draft differs from zod's declared one; the keywords are the same
      validate = this.ajv.compile(schema);
      this.validators.set(vkey, validate);
    }
    if (!validate(input === undefined ? null : input)) {
      const why = (validate.errors ?? []).map((e) => `${e.instancePath || 'input'} ${e.message}`).join('; ');
      throw new DurableError('validation', `invalid input for '${entityName}.${opName}': ${why}`);
    }
  }
}
