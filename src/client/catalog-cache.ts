/**
 * CatalogCache: the client's copy of the hub's catalog (what workers registered), kept fresh by a
 * KV watch, used to reject bad input before anything is written.
 * Invariant: a name missing from the cache is looked up once more in the bucket before it is
 * declared unknown (a worker may have registered it a moment ago). start() waits (bounded) until
 * the watch has delivered the bucket's last revision as of the start, so a fresh client rarely
 * pays that look-up.
 */
import { Ajv } from 'ajv';
import { decodeJson } from '../core/codec.js';
import { DurableError } from '../core/errors.js';
import type { Fabric, KvBucket, Stoppable } from '../store/fabric.js';
import { withStartupRetry, type StartupRetryOptions } from '../store/startup.js';
import { catalogKey, type CatalogEntry } from '../worker/catalog.js';

/** Longest start() waits for the watch to deliver the current catalog (fabric clock). */
const READY_WAIT_MS = 2_000;
/** Spellings of operation names remembered per entity (callers may vary the case). */
const MAX_CHECKED_OPS = 256;

export class CatalogCache {
  private readonly entries = new Map<string, CatalogEntry>();
  /** Per entity name, per operation name as called: the input check (compiled once). */
  private readonly checkedOps = new Map<string, Map<string, (input: unknown) => void>>();
  private readonly ajv = new Ajv({ allErrors: true, strict: false });
  private watcher: Stoppable | undefined;
  private stopped = false;

  constructor(
    private readonly kv: KvBucket,
    private readonly fabric: Fabric,
  ) {}

  /** The first watch may meet a cluster still electing: retried until the start-up deadline. */
  async start(startup?: StartupRetryOptions): Promise<void> {
    // The bucket's newest revision now: once the watch has delivered it, it has delivered the
    // current value of every key (it sends them in revision order).
    const last = await withStartupRetry('catalog read', () => this.fabric.readLast(`KV_${this.kv.name}`, `$KV.${this.kv.name}.>`), startup);
    const target = last?.seq ?? 0;
    let resolveReady!: () => void;
    const ready = new Promise<void>((r) => (resolveReady = r));
    if (target === 0) resolveReady();
    const watcher = await withStartupRetry(
      'catalog watch',
      () =>
        this.kv.watch((c) => {
          if (c.op === 'PUT') {
            try {
              this.set(decodeJson<CatalogEntry>(c.value));
            } catch {
              /* ignore foreign keys */
            }
          }
          if (c.revision >= target) resolveReady();
        }),
      startup,
    );
    if (this.stopped) watcher.stop();
    this.watcher = watcher;
    const clock = this.fabric.clock;
    let cancel: (() => void) | undefined;
    await Promise.race([ready, new Promise<void>((r) => (cancel = clock.setTimer(clock.now() + READY_WAIT_MS, r)))]);
    cancel?.();
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.stop();
  }

  private set(entry: CatalogEntry): void {
    const key = catalogKey(entry.kind, entry.name);
    this.entries.set(key, entry);
    // A new registration may change any operation's schema (names are matched case-insensitively).
    this.checkedOps.clear();
  }

  async get(kind: CatalogEntry['kind'], name: string): Promise<CatalogEntry | undefined> {
    const key = catalogKey(kind, name);
    const hit = this.entries.get(key);
    if (hit) return hit;
    const e = await this.kv.get(key);
    if (!e || e.value.length === 0) return undefined;
    const entry = decodeJson<CatalogEntry>(e.value);
    this.set(entry);
    return entry;
  }

  async requireOrchestration(name: string): Promise<void> {
    if (!(await this.get('orchestration', name))) {
      throw new DurableError('validation', `unknown orchestration '${name}': no worker of this hub registered it`);
    }
  }

  /**
   * Throws DurableError('validation') unless the entity and operation exist and the input fits.
   * Synchronous (returns undefined) when the entity is in the cache, which is nearly always: a
   * hot signal path pays no promise for it; a promise only when the bucket must be asked.
   */
  validateOperation(entityName: string, op: string, input: unknown): Promise<void> | undefined {
    // The checked operations of an entity, by the name the caller used: no key building, no lookup
    // of the entry per call. Dropped whenever the catalog changes (set).
    const checked = this.checkedOps.get(entityName)?.get(op);
    if (checked) {
      checked(input);
      return undefined;
    }
    const hit = this.entries.get(catalogKey('entity', entityName));
    if (hit) {
      this.checkOperation(hit, entityName, op, input);
      return undefined;
    }
    return this.get('entity', entityName).then((entry) => this.checkOperation(entry, entityName, op, input));
  }

  private checkOperation(entry: CatalogEntry | undefined, entityName: string, op: string, input: unknown): void {
    if (!entry) throw new DurableError('validation', `unknown entity '${entityName}': no worker of this hub registered it`);
    const opName = op.toLowerCase();
    const opEntry = entry.operations?.[opName];
    if (!opEntry) {
      throw new DurableError('validation', `entity '${entityName}' has no operation '${op}' (it has: ${Object.keys(entry.operations ?? {}).join(', ')})`);
    }
    let check: (input: unknown) => void = () => undefined;
    if (opEntry.input !== null && opEntry.input !== undefined) {
      const schema = { ...(opEntry.input as object) } as Record<string, unknown>;
      delete schema.$schema; // ajv's default draft differs from zod's declared one; the keywords are the same
      const validate = this.ajv.compile(schema);
      check = (value) => {
        if (validate(value === undefined ? null : value)) return;
        const why = (validate.errors ?? []).map((e) => `${e.instancePath || 'input'} ${e.message}`).join('; ');
        throw new DurableError('validation', `invalid input for '${entityName}.${opName}': ${why}`);
      };
    }
    let ops = this.checkedOps.get(entityName);
    if (!ops) this.checkedOps.set(entityName, (ops = new Map()));
    if (ops.size < MAX_CHECKED_OPS) ops.set(op, check);
    check(input);
  }
}
