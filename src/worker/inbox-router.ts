/**
 * InboxRouter: the first step of a partition's batch, sorting its inbox messages by what happens
 * to them: grouped by actor (in inbox order), timer registrations, forwards to the home partition
 * (a producer that hashed with another partition count), dead letters (an unknown or malformed
 * address). A partition batch (several entities' signals in one message, src/client/signal-
 * batcher.ts) is split here into one message per entity under the batch's sequence.
 *
 * Invariants: every message of the batch ends in exactly one place (nothing is dropped); a
 * message is grouped under its own actor only when this partition is its home; a partition
 * batch is applied per entity or parked whole when it is malformed, never half-read.
 */
import { decodeJson, encodeJson } from '../core/codec.js';
import { decodeToken } from '../core/encoding.js';
import { EntityId } from '../core/entity-id.js';
import { entityPartition, inboxSubject, instancePartition } from '../core/topology.js';
import { parseMultiBatch } from '../entity/messages.js';
import type { Hub } from '../store/hub.js';
import type { DeadLetterRecord, InboxMessage } from './actor-host.js';

/** The messages of a batch, sorted by what happens to them. */
export interface RoutedBatch {
  groups: Map<string, InboxMessage[]>;
  timers: InboxMessage[];
  /** `part`: which share of a partition batch (shares of one message must not dedupe each other). */
  forwards: Array<{ message: InboxMessage; home: number; part?: number }>;
  deadLetters: DeadLetterRecord[];
}

const EMPTY = new Uint8Array(0);
/** Actor tokens whose home partition the router remembers. */
const HOME_MEMO = 10_000;

export class InboxRouter {
  /** Home partition of recently routed actor tokens. */
  private readonly homes = new Map<string, number | undefined>();

  constructor(
    private readonly partition: number,
    private readonly hub: Hub,
  ) {}

  route(batch: InboxMessage[]): RoutedBatch {
    const routed: RoutedBatch = { groups: new Map(), timers: [], forwards: [], deadLetters: [] };
    for (const m of batch) {
      if (m.actorToken === 't') {
        routed.timers.push(m);
        continue;
      }
      if (m.actorToken === 'b') {
        this.routePartitionBatch(m, routed);
        continue;
      }
      const kind = m.actorToken.charCodeAt(0);
      if ((kind !== 101 /* e */ && kind !== 111) /* o */ || m.actorToken[1] !== '.') {
        routed.deadLetters.push({ ...m, reason: `unknown actor subject '${m.subject}'` });
        continue;
      }
      const home = this.homePartition(m.actorToken);
      if (home === undefined) {
        routed.deadLetters.push({ ...m, reason: `malformed actor address in '${m.subject}'` });
        continue;
      }
      if (home !== this.partition) {
        // A producer hashed with another partition count: move it home instead of applying it here.
        routed.forwards.push({ message: m, home });
        continue;
      }
      let list = routed.groups.get(m.actorToken);
      if (!list) routed.groups.set(m.actorToken, (list = []));
      list.push(m);
    }
    return routed;
  }

  /**
   * A partition batch (several entities' signals in one message, signal-batcher.ts) becomes one
   * message per entity, each under the batch's sequence (so each entity's `in` skips it on
   * redelivery on its own), already decoded. A share for another partition is forwarded there as
   * a batch of its own; a malformed message is parked whole (nothing of it applied).
   */
  private routePartitionBatch(m: InboxMessage, routed: RoutedBatch): void {
    let groups: ReturnType<typeof parseMultiBatch>;
    try {
      groups = parseMultiBatch(decodeJson(m.data));
    } catch {
      groups = 'body is not JSON';
    }
    if (typeof groups === 'string') {
      routed.deadLetters.push({ ...m, reason: groups });
      return;
    }
    const hub = this.hub.names.hub;
    groups.forEach(([token, signals], i) => {
      const decoded = { b: signals };
      const home = token.startsWith('e.') ? this.homePartition(token) : undefined;
      if (home === undefined) {
        routed.deadLetters.push({ ...m, data: encodeJson(decoded), reason: `malformed entity token '${token}' in a partition batch`, part: i });
        return;
      }
      const share: InboxMessage = { seq: m.seq, subject: inboxSubject(hub, home, token), actorToken: token, data: EMPTY, decoded, ...(m.trace ? { trace: m.trace } : {}) };
      if (home !== this.partition) {
        routed.forwards.push({ message: { ...share, data: encodeJson(decoded) }, home, part: i });
        return;
      }
      let list = routed.groups.get(token);
      if (!list) routed.groups.set(token, (list = []));
      list.push(share);
    });
  }

  /** Memoized per actor (a hot actor's messages all ask): parsing and hashing the token costs more than the rest of routing. */
  private homePartition(actorToken: string): number | undefined {
    if (this.homes.has(actorToken)) return this.homes.get(actorToken);
    if (this.homes.size >= HOME_MEMO) this.homes.clear();
    const home = this.computeHome(actorToken);
    this.homes.set(actorToken, home);
    return home;
  }

  private computeHome(actorToken: string): number | undefined {
    try {
      const parts = actorToken.split('.');
      const partitions = this.hub.config.partitions;
      if (parts[0] === 'e' && parts.length === 3) return entityPartition(new EntityId(decodeToken(parts[1]!), decodeToken(parts[2]!)), partitions);
      if (parts[0] === 'o' && parts.length === 2) return instancePartition(decodeToken(parts[1]!), partitions);
    } catch {
      return undefined; // not a valid token: the caller dead-letters the message
    }
    return undefined;
  }
}
