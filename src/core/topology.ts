/**
 * Names of every stream, bucket and subject of a hub: the single source of truth shared by
 * workers, clients, the HTTP layer and docs/protocol.md.
 * Invariant: an actor's inbox and event subjects embed its partition, computed by partitionOf()
 * over its address, so all messages of one actor land in one partition.
 */
import { encodeToken } from './encoding.js';
import type { EntityId } from './entity-id.js';
import { partitionOf } from './hash.js';
import { normalizeName, validateHub } from './names.js';

export const DEFAULT_HUB = 'durable';
export const DEFAULT_PARTITIONS = 16;

export interface HubNames {
  hub: string;
  inboxStream: string;
  eventStream: string;
  startStream: string;
  activityStream: string;
  deadLetterStream: string;
  leaseBucket: string;
  statusBucket: string;
  timerBucket: string;
  catalogBucket: string;
  entityIndexBucket: string;
}

export function hubNames(hub: string): HubNames {
  validateHub(hub);
  return {
    hub,
    inboxStream: `DN_${hub}_IN`,
    eventStream: `DN_${hub}_EV`,
    startStream: `DN_${hub}_START`,
    activityStream: `DN_${hub}_ACT`,
    deadLetterStream: `DN_${hub}_DLQ`,
    leaseBucket: `dn-${hub}-leases`,
    statusBucket: `dn-${hub}-status`,
    timerBucket: `dn-${hub}-timers`,
    catalogBucket: `dn-${hub}-catalog`,
    entityIndexBucket: `dn-${hub}-entities`,
  };
}

/** The address hashed to pick an entity's partition: '@name@key'. */
export const entityAddress = (id: EntityId) => id.toString();

/** Subject-suffix identifying an actor inside a partition: 'e.<name>.<key>' or 'o.<instanceId>'. */
export const entityActorToken = (id: EntityId) => `e.${encodeToken(id.name)}.${encodeToken(id.key)}`;
export const orchestrationActorToken = (instanceId: string) => `o.${encodeToken(instanceId)}`;

export const entityPartition = (id: EntityId, partitions: number) => partitionOf(entityAddress(id), partitions);
export const instancePartition = (instanceId: string, partitions: number) => partitionOf(instanceId, partitions);

export const inboxSubject = (hub: string, partition: number, actorToken: string) => `${hub}.in.${partition}.${actorToken}`;
export const inboxFilter = (hub: string, partition: number) => `${hub}.in.${partition}.>`;
export const eventSubject = (hub: string, partition: number, actorToken: string) => `${hub}.ev.${partition}.${actorToken}`;
export const eventFilter = (hub: string, partition: number) => `${hub}.ev.${partition}.>`;
export const activitySubject = (hub: string, name: string) => `${hub}.act.${encodeToken(normalizeName(name, 'activity'))}`;
export const deadLetterSubject = (hub: string, partition: number | 'start' | 'act') => `${hub}.dlq.${partition}`;
export const timerKey = (partition: number, timerId: string) => `${partition}.${encodeToken(timerId)}`;
export const statusKey = (instanceId: string) => encodeToken(instanceId);
export const entityIndexKey = (id: EntityId) => `${encodeToken(id.name)}.${encodeToken(id.key)}`;

/**
 * The subject a raw producer publishes `{ "op": ..., "input": ... }` to, to signal `id`.
 * Needs the hub's partition count (fixed when the hub is created; see docs/protocol.md).
 */
export function entityInboxSubject(hub: string, id: EntityId, partitions: number): string {
  return inboxSubject(hub, entityPartition(id, partitions), entityActorToken(id));
}

export function instanceInboxSubject(hub: string, instanceId: string, partitions: number): string {
  return inboxSubject(hub, instancePartition(instanceId, partitions), orchestrationActorToken(instanceId));
}

/** The subject a raw producer publishes `{ "instanceId"?: ..., "input"?: ... }` to, to start `name`. */
export function startSubject(hub: string, name: string): string {
  validateHub(hub);
  return `${hub}.start.${encodeToken(normalizeName(name, 'orchestration'))}`;
}
