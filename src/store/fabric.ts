/**
 * The fabric: the port between the engine (worker, client) and what stores and carries its
 * messages. Everything the worker and the client use of NATS JetStream is here and nothing more:
 * streams (fenced, deduplicated appends; last message of a subject; ordered scans and follows;
 * purges), durable work-queue consumers, KV buckets and core publish/subscribe, plus the one clock.
 * Two implementations: NATS (src/store/nats-fabric.ts, over the lean paths) and memory
 * (src/testing/memory-fabric.ts, the test kit's). test/contract/fabric-contract.ts is the
 * specification both pass.
 *
 * Invariants every implementation keeps (JetStream's semantics, which the engine relies on):
 * - A stream captures the subjects matching its patterns; each stream numbers its messages 1, 2,
 *   3, ... and a resolved `publish` means the message is stored (no other acknowledgement exists).
 * - `expectedLastSubjectSequence` is the fence: the publish is stored only if the subject's last
 *   message in that stream has that sequence (0: none); otherwise it rejects with DurableError
 *   `fenced` and stores nothing. KV `create` and `update` with a stale revision fail the same way.
 * - A `msgId` seen by that stream within its duplicate window (on the fabric's clock) is not stored
 *   again: the publish resolves with the first message's sequence and `duplicate: true`.
 * - Every stored or core-published message is delivered to the core subscribers of its subject
 *   (a KV put is a publish on `$KV.<bucket>.<key>` and is seen there), and a core publish to a
 *   subject a stream captures is stored by it (without dedupe errors reaching the sender).
 * - Ordered reads (`scan`, `follow`) deliver a filter's messages in sequence order, each once.
 * - A work-queue item is delivered to one puller at a time; unacknowledged after the consumer's ack
 *   wait (on the fabric's clock; `working()` restarts it) or after `nak(delay)`, it is delivered
 *   again with its delivery count increased. On a work-queue stream an acked item is removed.
 * - Errors are DurableErrors: `fenced` (the fence or a revision), `timeout`, `connection`
 *   (anything the store refused or could not answer), `validation` (a malformed request).
 */
import type { Clock } from '../core/clock.js';

/** A message as stored in a stream. */
export interface StoredMessage {
  seq: number;
  subject: string;
  data: Uint8Array;
  headers?: Map<string, string>;
  /** When the stream stored it (ms since the epoch, the store's clock); set by readLast and readNext. */
  time?: number;
}

/** What a stream answers to a publish. */
export interface PubAck {
  stream: string;
  seq: number;
  duplicate: boolean;
}

export interface PublishOptions {
  /** Dedupe id (`Nats-Msg-Id`). */
  msgId?: string;
  /** The fence (`Nats-Expected-Last-Subject-Sequence`): 0 = the subject must have no message. */
  expectedLastSubjectSequence?: number;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export interface StreamConfig {
  name: string;
  /** Subject patterns with `*` (one token) and `>` (the rest); streams never overlap. */
  subjects: string[];
  /** Work-queue retention: a message leaves the stream when a consumer acks it. */
  workQueue?: boolean;
  /** Dedupe window of `msgId`; default 2 minutes. */
  duplicateWindowMs?: number;
  /** Messages older than this are dropped; default: kept. */
  maxAgeMs?: number;
  /** Keep only the last N messages of each subject (KV buckets: 1). */
  maxMsgsPerSubject?: number;
}

/** A running subscription or follow; `stop()` is idempotent. */
export interface Stoppable {
  stop(): void;
}

export interface ScanOptions {
  /** Last sequence to deliver; default: the filter's last message when the scan starts. */
  untilSeq?: number;
  deadlineMs?: number;
}

/** A core NATS message (call replies, status changes). */
export interface CoreMessage {
  subject: string;
  data: Uint8Array;
  headers?: Map<string, string>;
  reply?: string;
}

export interface StreamFabric {
  /** Creates the stream if missing (idempotent; an existing stream keeps its configuration). */
  ensureStream(config: StreamConfig): Promise<void>;

  publish(subject: string, data: Uint8Array, options?: PublishOptions): Promise<PubAck>;

  /**
   * The last message in `stream` whose subject matches `filter` (a subject or a pattern), or
   * null. `leader`: asked of the stream's leader (NATS: a replica may answer a plain read and
   * be behind), for what must see every committed message (the end of a scan, a stall check).
   */
  readLast(stream: string, filter: string, options?: { leader?: boolean }): Promise<StoredMessage | null>;

  /**
   * Calls `onMessage` in order for each message matching `filter` from `fromSeq` up to
   * `untilSeq` (default: the last one when the scan starts); awaits it before the next. Returns
   * the last sequence delivered (0 if none). History loads, effect recovery.
   */
  scan(stream: string, filter: string, fromSeq: number, onMessage: (m: StoredMessage) => void | Promise<void>, options?: ScanOptions): Promise<number>;

  /**
   * Delivers every message matching `filter` from `fromSeq` on, in order, now and as they are
   * stored, until stopped. Each message is delivered once, in order, and the follow survives the
   * loss of a server node (NATS: a stalled or misplaced reader is replaced from the last sequence
   * delivered). Backpressure: the next message waits for the promise the callback returned; a
   * callback that returns nothing costs no wait. Rejects when the follow cannot start. Partition
   * inbox readers.
   */
  follow(stream: string, filter: string, fromSeq: number, onMessage: (m: StoredMessage) => void | Promise<void>): Promise<Stoppable>;

  /**
   * The first message matching `filter` with a sequence >= `fromSeq`, or null (NATS: a DIRECT.GET
   * with `next_by_subj`). Random access for history browsing: `readNext(s, '>', n)` reads message n
   * (or the next one alive).
   */
  readNext(stream: string, filter: string, fromSeq: number): Promise<StoredMessage | null>;

  /** The stream's sequences now: first and last (0 when it never held a message) and live count. */
  streamInfo(stream: string): Promise<{ firstSeq: number; lastSeq: number; messages: number }>;

  /**
   * Removes the messages matching `filter` (default: all) with a sequence below `beforeSeq`
   * (default: all), or all but the newest `keep` of them; returns how many.
   */
  purge(stream: string, options?: { filter?: string; beforeSeq?: number; keep?: number }): Promise<number>;

  /** Removes one message; false when it was not there. */
  deleteMessage(stream: string, seq: number): Promise<boolean>;

  /** The durable consumer `name` on `stream` (created if missing; its ack wait updated if it differs). */
  workQueue(stream: string, name: string, options: { filter?: string; ackWaitMs: number }): Promise<WorkQueue>;

  /**
   * Every durable consumer of `stream` with its counts, whoever created it (queue metrics);
   * `redelivered`: items delivered more than once and not yet settled.
   */
  workQueues(stream: string): Promise<Array<{ name: string; pending: number; ackPending: number; redelivered: number }>>;
}

/** One delivery of a work-queue item. Settle it once: ack, nak or term. */
export interface WorkItem extends StoredMessage {
  /** 1 on the first delivery. */
  deliveryCount: number;
  /** Done: never delivered again (and removed from a work-queue stream). */
  ack(): void;
  /** Deliver again, after `delayMs` (default: at once). */
  nak(delayMs?: number): void;
  /** Never deliver again, without processing (dead-lettered by the caller). */
  term(): void;
  /** Still working on it: restarts the ack wait. */
  working(): void;
}

export interface WorkQueue {
  /**
   * Yields up to `max` items as they become available (redeliveries first, then in stream
   * order) and ends after `max` items, when `expiresMs` has passed (fabric clock; default 30 s;
   * NATS needs at least 1 s) or when `signal` aborts. What it yielded stays held until settled.
   */
  fetch(max: number, options?: { expiresMs?: number; signal?: AbortSignal }): AsyncIterable<WorkItem>;
  /** Items waiting for a first delivery, and items delivered and not yet settled (metrics). */
  info(): Promise<{ pending: number; ackPending: number }>;
}

/** A KV entry; deleted keys are never returned as entries. */
export interface KvEntry {
  key: string;
  value: Uint8Array;
  revision: number;
}

/** What a watch sees: a put, or the deletion (or purge) of a key. */
export type KvChange = ({ op: 'PUT' } & KvEntry) | { op: 'DEL' | 'PURGE'; key: string; revision: number };

export interface KvBucket {
  readonly name: string;
  get(key: string): Promise<KvEntry | null>;
  /** Returns the new revision. */
  put(key: string, value: Uint8Array): Promise<number>;
  /** Only if the key does not exist (or was deleted); else DurableError `fenced`. */
  create(key: string, value: Uint8Array): Promise<number>;
  /** Only if the key's last revision is `revision`; else DurableError `fenced`. */
  update(key: string, value: Uint8Array, revision: number): Promise<number>;
  /** Deletes the key (`purge`: also its history); a later `create` succeeds. */
  delete(key: string, options?: { purge?: boolean }): Promise<void>;
  /** Live keys matching `filter` (`*`/`>` patterns; default all). */
  keys(filter?: string): Promise<string[]>;
  /**
   * Calls `onChange` with the last value (or deletion) of every matching key, then with every
   * change, in revision order, until stopped. Subscribe-then-read: no change is missed.
   */
  watch(onChange: (c: KvChange) => void, options?: { filter?: string }): Promise<Stoppable>;
}

export interface CoreFabric {
  /** Fire and forget; subscribers of a matching pattern receive it. */
  publishCore(subject: string, data: Uint8Array, options?: { headers?: Record<string, string>; reply?: string }): void;
  /** Resolves once the subscription is in place: a message published after that is delivered. */
  subscribe(pattern: string, onMessage: (m: CoreMessage) => void): Promise<Stoppable>;
  /** A fresh, unique subject prefix for replies (`_INBOX.<id>`). */
  inbox(): string;
}

/** The whole port: what a worker or a client is given instead of a NATS connection. */
export interface Fabric extends StreamFabric, CoreFabric {
  readonly clock: Clock;
  /** Largest message the fabric accepts, in bytes. */
  readonly maxPayload: number;
  /**
   * Opens (creating if missing) a KV bucket; its stream is `KV_<name>` on `$KV.<name>.>`.
   * `timeoutMs` bounds each request (the lease bucket must answer quickly or not at all).
   */
  kv(name: string, options?: { timeoutMs?: number }): Promise<KvBucket>;
  /** False while the fabric cannot reach its store (health checks). */
  isConnected(): boolean;
  /** Round trip to the store in ms; `connection` error when it does not answer within `timeoutMs`. */
  ping(timeoutMs?: number): Promise<number>;
  /** Closes what this handle opened; later calls fail with `connection`. */
  close(): Promise<void>;
}
