/**
 * The contract between a partition's batch loop and the hosts of each actor kind (entities,
 * orchestrations). A host turns one actor's messages of a batch into a CommitPlan; the batch
 * loop appends every plan's event (fenced), then publishes effects, then replies.
 *
 * Invariant: a plan's effects are recorded inside its event, so that whoever recovers the
 * partition after a crash can publish them again (with the same dedupe ids).
 */

/** A message read from a partition's inbox. */
export interface InboxMessage {
  seq: number;
  subject: string;
  /** Subject suffix after '<hub>.in.<p>.': 'e.<name>.<key>', 'o.<id>' or 't'. */
  actorToken: string;
  data: Uint8Array;
  msgId?: string;
}

/** A publish to do after commit (or again during recovery). `d` is JSON; absent = empty payload. */
export interface ResolvedEffect {
  s: string;
  d?: unknown;
  id?: string;
  h?: Record<string, string>;
}

export interface Reply {
  subject: string;
  data: Uint8Array;
}

export interface DeadLetterRecord {
  seq: number;
  subject: string;
  data: Uint8Array;
  reason: string;
}

export interface CommitPlan {
  /** The event to append; absent when nothing durable changed. */
  append?: { subject: string; expectedLastSeq: number; data: Uint8Array };
  effects: ResolvedEffect[];
  replies: Reply[];
  deadLetters: DeadLetterRecord[];
  /** Called with the event's stream sequence once appended (or 0 when there was nothing to append). */
  committed(eventSeq: number): void;
  /** Runs after effects are durable (e.g. trimming history after continueAsNew). */
  afterCommit?: () => Promise<void>;
  /** Applied operations, for metrics. */
  applied: number;
}

export interface ActorHost {
  prepare(partition: number, actorToken: string, messages: InboxMessage[]): Promise<CommitPlan>;
  /** Forget cached state of an actor (fence failure) or of everything (lease loss). */
  invalidate(actorToken?: string): void;
}
