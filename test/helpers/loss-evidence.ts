/**
 * Post-mortem of a run that lost acknowledged signals (the `sendSignals` workload): for every
 * counter that came out short, what the producer was told (PubAcks), what the inbox stream still
 * holds, what the entity's events say it applied (`m.in`, `m.ks`), the partition checkpoints, and
 * each node's view of the inbox stream (monitoring /jsz). Written as JSON next to the kept store
 * dirs so that the evidence survives the run.
 *
 * Invariant: read-only; never changes the hub (ephemeral ordered consumers, direct reads).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJson } from '../../src/core/codec.js';
import { entityActorToken, entityPartition, eventSubject } from '../../src/core/topology.js';
import { scan } from '../../src/store/event-log.js';
import { type DurableClient, EntityId } from '../../src/index.js';
import { readStreamBlocks, replicaDifferences, type BlockRecord } from './filestore-blocks.js';
import type { TestCluster } from './nats-cluster.js';

/** What the producer saw for one idempotency key: every PubAck (or error) of every attempt. */
export type AckLog = Map<string, Array<{ seq?: number; duplicate?: boolean; error?: string; at: number }>>;

const td = new TextDecoder();

export async function dumpLossEvidence(
  client: DurableClient,
  cluster: TestCluster,
  prefix: string,
  entities: number,
  total: number,
  short: Array<{ key: string; expected: number; actual: unknown }>,
  acks: AckLog,
): Promise<string> {
  const hub = client.hub;
  const partitions = hub.config.partitions;
  const report: Record<string, unknown> = { at: new Date().toISOString(), dir: cluster.dir };
  // Each node's own view of the inbox stream (state per replica, not the leader's only).
  report.nodes = await Promise.all(
    cluster.httpPorts.map(async (port, i) => {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/jsz?streams=true&config=false`, { signal: AbortSignal.timeout(3_000) });
        const jsz = (await res.json()) as any;
        const streams = (jsz.account_details ?? []).flatMap((a: any) => a.stream_detail ?? []);
        const inbox = streams.find((s: any) => s.name === hub.names.inboxStream);
        return { node: `n${i + 1}`, inbox: inbox ? { state: inbox.state, leader: inbox.cluster?.leader } : null };
      } catch (e) {
        return { node: `n${i + 1}`, error: (e as Error).message };
      }
    }),
  );
  // Each node's stored copy of the inbox, read from its block files: do the replicas hold the
  // same message at every sequence?
  const copies = [1, 2, 3].map((n) => readStreamBlocks(join(cluster.dir, `n${n}`), hub.names.inboxStream));
  const brief = (r: BlockRecord | undefined) => (r ? `${r.subject} ${r.msgId ?? ''}` : 'absent');
  const differing = replicaDifferences(cluster.dir, hub.names.inboxStream);
  report.replicaDifferences = { count: differing.length, messages: copies.map((c) => c.size), first: differing.slice(0, 20) };
  const checkpoints: Record<string, unknown> = {};
  for (let p = 0; p < partitions; p++) {
    const e = await hub.leases.get(`p.${p}`).catch(() => null);
    checkpoints[`p.${p}`] = e && e.length > 0 ? { revision: e.revision, ...decodeJson<object>(e.value) } : null;
  }
  report.checkpoints = checkpoints;
  report.entities = [];
  for (const s of short) {
    const id = new EntityId('counter', s.key);
    const p = entityPartition(id, partitions);
    const inSubject = client.signalSubject(id);
    const evSubject = eventSubject(hub.names.hub, p, entityActorToken(id));
    const inbox: Array<{ seq: number; msgId?: string; body: string }> = [];
    await scan(
      hub,
      hub.names.inboxStream,
      inSubject,
      1,
      (m) => {
        inbox.push({ seq: m.seq, ...(m.headers?.get('Nats-Msg-Id') ? { msgId: m.headers.get('Nats-Msg-Id')! } : {}), body: td.decode(m.data) });
      },
      { deadlineMs: 10_000 },
    ).catch((e) => inbox.push({ seq: -1, body: `scan failed: ${(e as Error).message}` }));
    const events: Array<{ seq: number; in: number; st: unknown; ks?: string[] }> = [];
    await scan(
      hub,
      hub.names.eventStream,
      evSubject,
      1,
      (m) => {
        const ev = decodeJson<{ st?: unknown; m: { in: number; ks?: string[] } }>(m.data);
        events.push({ seq: m.seq, in: ev.m.in, st: ev.st, ...(ev.m.ks ? { ks: ev.m.ks } : {}) });
      },
      { deadlineMs: 10_000 },
    ).catch((e) => events.push({ seq: -1, in: -1, st: `scan failed: ${(e as Error).message}` }));
    // Keys the entity applied: union of the last-32 key lists of its events (a batch of one
    // entity is far below 32 messages in this workload, so no key falls out between two events).
    const applied = new Set(events.flatMap((e) => e.ks ?? []));
    const missing: unknown[] = [];
    const idx = Number(s.key.slice(1));
    for (let i = idx; i < total; i += entities) {
      const k = `${prefix}:${i}`;
      if (applied.has(k)) continue;
      const got = acks.get(k) ?? [];
      const seqs = [...new Set(got.filter((a) => a.seq !== undefined).map((a) => a.seq!))];
      // Each acknowledged sequence, fetched from the stream leader: there, purged, or another message?
      const atSeq = await Promise.all(
        seqs.map(async (seq) => {
          try {
            const m = await hub.jsm.streams.getMessage(hub.names.inboxStream, { seq });
            if (!m) return { seq, error: 'no message' };
            return { seq, subject: m.subject, msgId: m.header?.get('Nats-Msg-Id'), body: td.decode(m.data) };
          } catch (e) {
            return { seq, error: (e as Error).message };
          }
        }),
      );
      // The entity's applied sequence just before and after the acknowledged one.
      const around = seqs.map((seq) => ({
        seq,
        lastEventBelow: events.filter((e) => e.in < seq).slice(-1)[0] ?? null,
        firstEventAtOrAbove: events.find((e) => e.in >= seq) ?? null,
      }));
      const perNode = seqs.map((seq) => ({ seq, n1: brief(copies[0]!.get(seq)), n2: brief(copies[1]!.get(seq)), n3: brief(copies[2]!.get(seq)) }));
      missing.push({ key: k, amount: (i % 7) + 1, acks: got, inInbox: inbox.filter((m) => m.msgId === k), atSeq, perNode, around });
    }
    (report.entities as unknown[]).push({ ...s, partition: p, inSubject, evSubject, missing, inbox, events: events.map(({ ks, ...e }) => e) });
  }
  const file = join(cluster.dir, 'loss-evidence.json');
  writeFileSync(file, JSON.stringify(report, null, 2));
  return file;
}
