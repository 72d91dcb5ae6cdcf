/**
 * BatchCommitter: turns one batch's messages, grouped by actor, into durable events, one fenced
 * append per actor, and reports per actor what committed and what did not. It never throws
 * midway: a failure of one actor (a load that timed out, an append the server did not confirm)
 * leaves the others committed, and they still reply and publish their effects.
 *
 * Invariants:
 * - an actor's plan counts as committed only once every part of its event has a PubAck;
 * - after any failed or uncertain append of an actor (fenced, or no PubAck), its cached state is
 *   invalidated (ActorHost contract) before anyone prepares it again, so the next attempt starts
 *   from the store;
 * - a fenced append (another writer moved the actor) is redone from a fresh load, a bounded number
 *   of times; nothing is appended once the lease may be lost.
 */
import { DurableError } from '../core/errors.js';
import type { StreamFabric } from '../store/fabric.js';
import type { ActorHost, CommitPlan, InboxMessage } from './actor-host.js';
import type { WorkerMetrics } from './metrics.js';

export interface CommittedActor {
  token: string;
  plan: CommitPlan;
  /** Stream sequence of the actor's (last) event part, 0 when there was nothing to append. */
  eventSeq: number;
  /** Stream sequence of the event's first part (where recovery starts reading it), 0 likewise. */
  firstSeq: number;
}

export interface FailedActor {
  token: string;
  messages: InboxMessage[];
  error: Error;
}

export interface CommitOutcome {
  committed: CommittedActor[];
  failed: FailedActor[];
  /** Highest event-stream sequence appended by this batch (0 if none). */
  maxEventSeq: number;
}

export interface BatchCommitterDeps {
  /** Where events are appended (the hub's fabric). */
  fabric: Pick<StreamFabric, 'publish'>;
  hostOf: (actorToken: string) => ActorHost;
  metrics: WorkerMetrics;
  /** False once the lease may have been lost: append nothing more. */
  leaseValid: () => boolean;
}

const MAX_FENCE_RETRIES = 5;

export class BatchCommitter {
  constructor(private readonly d: BatchCommitterDeps) {}

  /** Prepares and appends every actor's messages, all actors in parallel. */
  async commit(partition: number, groups: Map<string, InboxMessage[]>): Promise<CommitOutcome> {
    const results = await Promise.all([...groups].map(([token, messages]) => this.commitActor(partition, token, messages)));
    const outcome: CommitOutcome = { committed: [], failed: [], maxEventSeq: 0 };
    for (const r of results) {
      if ('error' in r) outcome.failed.push(r);
      else {
        outcome.committed.push(r);
        if (r.eventSeq > outcome.maxEventSeq) outcome.maxEventSeq = r.eventSeq;
      }
    }
    return outcome;
  }

  private async commitActor(partition: number, token: string, messages: InboxMessage[]): Promise<CommittedActor | FailedActor> {
    const host = this.d.hostOf(token);
    for (let attempt = 0; ; attempt++) {
      let plan: CommitPlan;
      try {
        plan = await host.prepare(partition, token, messages);
      } catch (e) {
        host.invalidate(token);
        return { token, messages, error: e as Error };
      }
      if (!this.d.leaseValid()) {
        host.invalidate(token); // the prepared state was never written
        return { token, messages, error: new DurableError('fenced', `partition ${partition}: lease may be lost; not committing`) };
      }
      try {
        const [firstSeq, eventSeq] = await this.append(plan);
        plan.committed(eventSeq, firstSeq);
        return { token, plan, eventSeq, firstSeq };
      } catch (e) {
        host.invalidate(token);
        if (!DurableError.is(e, 'fenced')) return { token, messages, error: e as Error };
        // Presumed new but it existed: prepared again from the store; not another writer.
        if (!plan.append?.presumedNew) this.d.metrics.fenced.inc();
        if (attempt >= MAX_FENCE_RETRIES) {
          return { token, messages, error: new DurableError('fenced', `actor ${token} kept being written by another owner`, { cause: e }) };
        }
      }
    }
  }

  /** Appends a plan's parts in order, each fenced on the previous; resolves [first, last] sequence. */
  private async append(plan: CommitPlan): Promise<[number, number]> {
    if (!plan.append) return [0, 0];
    const { subject, parts } = plan.append;
    let expected = plan.append.expectedLastSeq;
    let first = 0;
    for (const data of parts) {
      const ack = await this.d.fabric.publish(subject, data, { expectedLastSubjectSequence: expected });
      if (!first) first = ack.seq;
      expected = ack.seq;
    }
    return [first, expected];
  }
}
