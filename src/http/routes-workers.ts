/**
 * What the console's Workers view reads and the one repair it offers:
 * `GET {webhooks}/workers` (live workers, partition leases, inbox lag, activity queues),
 * `GET {webhooks}/deadletters?limit=&from=` and `POST {webhooks}/deadletters/{seq}/redrive`.
 *
 * Invariants: everything here is read from the store through the fabric port (the lease bucket,
 * stream and work-queue info), never from a worker's memory, so any HTTP server of the hub answers the same; a
 * re-drive publishes the parked body back to its original subject and only then deletes it from
 * the dead-letter stream (a crash between the two leaves a duplicate, never a loss), and it
 * refuses any subject outside this hub's inbox, start and activity subjects.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { DurableError } from '../core/errors.js';
import { inboxFilter } from '../core/topology.js';
import type { KvBucket } from '../store/fabric.js';
import type { Hub } from '../store/hub.js';
import type { RouteContext } from './context.js';
import { WEBHOOK_BASE } from './payloads.js';
import { parse } from './schemas.js';

/**
 * A heartbeat older than this marks a worker as gone. It is the workers' default leaseMs: a
 * worker whose heartbeat is that old has lost its partitions to the others anyway.
 */
const LIVE_MS = 6_000;
const MAX_DEAD_LETTERS = 500;

export interface WorkerView {
  id: string;
  startedAt?: string;
  heartbeatAgeMs: number;
  live: boolean;
  partitions: number[];
}

export interface PartitionView {
  partition: number;
  owner: string | null;
  /** Time since the owner last renewed the lease (the renewal also moves the checkpoint). */
  leaseAgeMs: number | null;
  checkpoint: number;
  /**
   * Last inbox sequence on this partition's subjects; null when none is left (the inbox is purged
   * behind the checkpoint, so an idle partition has nothing newer than its checkpoint).
   */
  lastSeq: number | null;
  /** lastSeq minus the checkpoint: how far the owner is behind, in inbox sequence numbers. */
  lag: number;
}

export interface ActivityQueueView {
  consumer: string;
  pending: number;
  ackPending: number;
  redelivered: number;
}

export interface DeadLetterView {
  seq: number;
  time: string;
  subject: string;
  originalSubject: string | null;
  originalSeq: number | null;
  reason: string;
  /** The parked body as text (it is JSON in practice, but shown as it is). */
  body: string;
}

const deadLetterQuery = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_DEAD_LETTERS).optional(),
  from: z.coerce.number().int().min(1).optional(),
});
const seqParams = z.object({ seq: z.coerce.number().int().min(1) });

/**
 * Every JSON value of the bucket with the time it was written: its keys, then each key's record
 * read from the bucket's stream (value and stored time in one read, as a KV get).
 */
async function entries(hub: Hub, kv: KvBucket): Promise<Map<string, { value: unknown; created: Date }>> {
  const keys = await kv.keys();
  const out = new Map<string, { value: unknown; created: Date }>();
  await Promise.all(
    keys.map(async (k) => {
      const m = await hub.fabric.readLast(`KV_${kv.name}`, `$KV.${kv.name}.${k}`).catch(() => null);
      const op = m?.headers?.get('KV-Operation');
      if (!m || op === 'DEL' || op === 'PURGE' || m.data.length === 0) return;
      try {
        out.set(k, { value: JSON.parse(new TextDecoder().decode(m.data)), created: new Date(m.time ?? 0) });
      } catch {
        /* not a JSON value: not one of ours */
      }
    }),
  );
  return out;
}

/** Last stream sequence on `filter` (a wildcard: nats-server 2.9 answers it), null when none is left. */
async function lastSeqOn(hub: Hub, filter: string): Promise<number | null> {
  const m = await hub.fabric.readLast(hub.names.inboxStream, filter, { leader: true }).catch(() => null);
  return m?.seq ?? null;
}

export async function readWorkers(hub: Hub, now = hub.fabric.clock.now()) {
  const leases = await entries(hub, hub.kv.leases);
  const workers: WorkerView[] = [];
  const partitions: PartitionView[] = [];
  for (const [key, { value, created }] of leases) {
    if (!key.startsWith('w.')) continue;
    const v = value as { id?: string; startedAt?: string };
    const age = Math.max(0, now - created.getTime());
    workers.push({ id: v.id ?? key.slice(2), ...(v.startedAt ? { startedAt: v.startedAt } : {}), heartbeatAgeMs: age, live: age < LIVE_MS, partitions: [] });
  }
  const byId = new Map(workers.map((w) => [w.id, w]));
  const lastSeqs = await Promise.all(Array.from({ length: hub.config.partitions }, (_, p) => lastSeqOn(hub, inboxFilter(hub.names.hub, p))));
  for (let p = 0; p < hub.config.partitions; p++) {
    const lease = leases.get(`p.${p}`);
    const v = lease?.value as { owner?: string | null; cp?: { in?: number } } | undefined;
    const owner = v?.owner ?? null;
    const checkpoint = v?.cp?.in ?? 0;
    const lastSeq = lastSeqs[p] ?? null;
    partitions.push({
      partition: p,
      owner,
      leaseAgeMs: lease ? Math.max(0, now - lease.created.getTime()) : null,
      checkpoint,
      lastSeq,
      lag: lastSeq === null ? 0 : Math.max(0, lastSeq - checkpoint),
    });
    if (owner) byId.get(owner)?.partitions.push(p);
  }
  workers.sort((a, b) => (a.id < b.id ? -1 : 1));

  const activities: ActivityQueueView[] = [];
  for (const c of await hub.fabric.workQueues(hub.names.activityStream)) {
    activities.push({ consumer: c.name, pending: c.pending, ackPending: c.ackPending, redelivered: c.redelivered ?? 0 });
  }
  activities.sort((a, b) => (a.consumer < b.consumer ? -1 : 1));
  return { hub: hub.names.hub, partitionCount: hub.config.partitions, workers, partitions, activities };
}

/** Dead letters oldest first from `from`, at most `limit`; `next` is where the following page starts. */
export async function readDeadLetters(hub: Hub, limit: number, from = 1): Promise<{ deadLetters: DeadLetterView[]; next?: number }> {
  const stream = hub.names.deadLetterStream;
  const out: DeadLetterView[] = [];
  let seq = from;
  while (out.length < limit) {
    // next_by_subj finds the first message at or after `seq`: deleted (re-driven) ones are skipped.
    const m = await hub.fabric.readNext(stream, `${hub.names.hub}.dlq.>`, seq).catch(() => null);
    if (!m) return { deadLetters: out };
    const original = m.headers?.get('Dn-Seq');
    out.push({
      seq: m.seq,
      time: new Date(m.time ?? 0).toISOString(),
      subject: m.subject,
      originalSubject: m.headers?.get('Dn-Subject') || null,
      originalSeq: original ? Number(original) : null,
      reason: m.headers?.get('Dn-Reason') || '(no reason recorded)',
      body: new TextDecoder().decode(m.data),
    });
    seq = m.seq + 1;
  }
  return { deadLetters: out, next: seq };
}

/** Subjects a dead letter may be re-driven to: this hub's inbox, start and activity subjects. */
function redrivable(hub: string, subject: string): boolean {
  return ['in', 'start', 'act'].some((k) => subject.startsWith(`${hub}.${k}.`));
}

export async function redrive(hub: Hub, seq: number): Promise<{ seq: number; subject: string; newSeq: number }> {
  const stream = hub.names.deadLetterStream;
  const found = await hub.fabric.readNext(stream, '>', seq).catch(() => null);
  const m = found?.seq === seq ? found : null;
  if (!m) throw new DurableError('not-found', `no dead letter with sequence ${seq}`);
  const subject = m.headers?.get('Dn-Subject') ?? '';
  if (!redrivable(hub.names.hub, subject)) {
    throw new DurableError('validation', `dead letter ${seq} has no re-drivable original subject ('${subject}')`);
  }
  const ack = await hub.fabric.publish(subject, m.data);
  await hub.fabric.deleteMessage(stream, seq);
  return { seq, subject, newSeq: ack.seq };
}

export function registerWorkerRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const hub = ctx.client.hub;
  app.get(`${WEBHOOK_BASE}/workers`, async () => readWorkers(hub));

  app.get(`${WEBHOOK_BASE}/deadletters`, async (request) => {
    const q = parse(deadLetterQuery, request.query, 'query');
    return readDeadLetters(hub, q.limit ?? 100, q.from ?? 1);
  });

  app.post(`${WEBHOOK_BASE}/deadletters/:seq/redrive`, async (request) => {
    const { seq } = parse(seqParams, request.params, 'path');
    return redrive(hub, seq);
  });
}
