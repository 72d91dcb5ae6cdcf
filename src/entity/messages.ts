/**
 * The wire shape of a message to an entity (the JSON body published to its inbox subject).
 * Raw producers send `{ "op": "add", "input": 5 }`; the other fields are set by durable-nats.
 * Invariant: anything that fails this schema is dead-lettered, never applied and never fatal.
 */
import { z } from 'zod';

export const entityMessageSchema = z.object({
  op: z.string().min(1).max(256),
  input: z.unknown().optional(),
  /** 's' signal (default), 'c' call, 'lock' lock request, 'unlock' lock release, 'restore' restore a version. */
  k: z.enum(['s', 'c', 'lock', 'unlock', 'restore']).optional(),
  /** Core NATS subject the client waits on for a call's outcome. */
  reply: z.string().max(512).optional(),
  /** The orchestration that sent it and its request id: the outcome goes to its inbox. */
  from: z.object({ i: z.string().min(1), r: z.number().int(), u: z.string().optional() }).optional(),
  /** Sent from inside the critical section of this orchestration (passes its lock). */
  lo: z.string().optional(),
  /** Lock protocol: owner instance, lock id, the sorted entity set and this entity's index in it. */
  lock: z.object({ o: z.string().min(1), l: z.number().int(), ids: z.array(z.string()), n: z.number().int().min(0), u: z.string().optional() }).optional(),
  /** Milliseconds since epoch the sender asked this to be applied at (scheduled signals). */
  at: z.number().optional(),
});

export type EntityMessage = z.infer<typeof entityMessageSchema>;

const PLAIN_KEYS = new Set(['op', 'input', 'k', 'reply']);
const KINDS = new Set(['s', 'c', 'lock', 'unlock', 'restore']);

/**
 * `entityMessageSchema.safeParse`, with a fast path for the shape nearly every message has (a
 * signal or a client call: `op`, `input`, `k`, `reply` only). Such a body is accepted as it is
 * when it is exactly what the schema would return (no other key, every field valid), so the hot
 * path pays no schema walk; anything else goes through the schema.
 */
export function parseEntityMessage(body: unknown): { success: true; data: EntityMessage } | { success: false; error: z.ZodError } {
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    const b = body as Record<string, unknown>;
    const op = b.op;
    let plain = typeof op === 'string' && op.length >= 1 && op.length <= 256;
    if (plain) {
      for (const key in b) {
        if (!PLAIN_KEYS.has(key)) {
          plain = false;
          break;
        }
      }
    }
    if (plain && b.k !== undefined && !(typeof b.k === 'string' && KINDS.has(b.k))) plain = false;
    if (plain && b.reply !== undefined && !(typeof b.reply === 'string' && b.reply.length <= 512)) plain = false;
    if (plain) return { success: true, data: b as EntityMessage };
  }
  return entityMessageSchema.safeParse(body);
}

/** Most signals in one batch message. */
export const MAX_BATCH_SIGNALS = 1_024;

/**
 * The batch form `{ "b": [signal, ...] }` (src/client/signal-batcher.ts, docs/protocol.md): its
 * signals in order; a string saying why when it is a batch that cannot be applied (then none of
 * it is); undefined when `body` is not a batch at all.
 */
export function parseEntityBatch(body: unknown): EntityMessage[] | string | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body) || !('b' in body)) return undefined;
  const b = (body as { b: unknown }).b;
  if (Object.keys(body).length !== 1) return 'a batch message has only the field "b"';
  if (!Array.isArray(b) || b.length === 0 || b.length > MAX_BATCH_SIGNALS) return `"b" must be an array of 1..${MAX_BATCH_SIGNALS} signals`;
  const signals: EntityMessage[] = [];
  for (let i = 0; i < b.length; i++) {
    const check = parseEntityMessage(b[i]);
    if (!check.success) return `signal ${i} of the batch: ${check.error.issues.map((x) => `${x.path.join('.') || 'body'}: ${x.message}`).join('; ')}`;
    const m = check.data;
    if ((m.k !== undefined && m.k !== 's') || m.reply !== undefined || m.from !== undefined || m.lock !== undefined || m.lo !== undefined || m.at !== undefined) {
      return `signal ${i} of the batch: a batch holds plain signals only ({ op, input })`;
    }
    signals.push(m);
  }
  return signals;
}

/**
 * The partition batch form `{ "m": [[actorToken, [signal, ...]], ...] }` on `<hub>.in.<p>.b`
 * (several entities of one partition; src/client/signal-batcher.ts): its groups, each entity once;
 * or why it cannot be applied (then none of it is). The signals themselves are checked per entity
 * (parseEntityBatch), where a bad one is parked alone.
 */
export function parseMultiBatch(body: unknown): Array<[string, unknown[]]> | string {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'a partition batch is an object { "m": [...] }';
  const m = (body as { m?: unknown }).m;
  if (Object.keys(body).length !== 1 || !Array.isArray(m) || m.length === 0) return 'a partition batch has only the field "m", a non-empty array';
  const seen = new Set<string>();
  let signals = 0;
  for (const group of m) {
    if (!Array.isArray(group) || group.length !== 2 || typeof group[0] !== 'string' || !Array.isArray(group[1])) return 'each entry of "m" is [actorToken, [signal, ...]]';
    if (seen.has(group[0])) return `entity ${group[0]} appears twice in one partition batch`;
    seen.add(group[0]);
    signals += group[1].length;
  }
  if (signals > MAX_BATCH_SIGNALS) return `a partition batch holds at most ${MAX_BATCH_SIGNALS} signals`;
  return m as Array<[string, unknown[]]>;
}

/** An entity message as delivered from the inbox stream. */
export interface InboxEntityMessage {
  /** Inbox stream sequence: the order of application and the idempotency record. */
  seq: number;
  body: EntityMessage;
  /** A batch message's signals, applied in order under this one sequence (`body` is the first). */
  batch?: EntityMessage[];
  /** Nats-Msg-Id of the publish (client idempotency key), if any. */
  msgId?: string;
}

/** The outcome of a call, as replied to a client or an orchestration. */
export interface CallOutcome {
  ok: boolean;
  result?: unknown;
  error?: import('../core/errors.js').ErrorInfo;
}
