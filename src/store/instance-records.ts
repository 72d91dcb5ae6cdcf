/**
 * Removing an orchestration instance's records: its event subject (the history of every run) and
 * its status. Used by the client's purge and by the worker's retention sweep.
 * Invariant: the history goes first: a crash in between leaves a status without history (purged
 * again by the next attempt), never a history that no status lists.
 */
import { eventSubject, instancePartition, orchestrationActorToken, statusKey } from '../core/topology.js';
import type { Hub } from './hub.js';

export async function purgeInstanceRecords(hub: Hub, instanceId: string): Promise<void> {
  const p = instancePartition(instanceId, hub.config.partitions);
  await hub.fabric.purge(hub.names.eventStream, { filter: eventSubject(hub.names.hub, p, orchestrationActorToken(instanceId)) });
  await hub.kv.status.delete(statusKey(instanceId), { purge: true });
}
