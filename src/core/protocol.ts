/**
 * Subjects for raw producers (docs/protocol.md). Kept apart from topology.ts because these are
 * the public, documented names: changing one breaks producers in other languages.
 */
import { EntityId } from './entity-id.js';
import { DEFAULT_PARTITIONS, entityInboxSubject } from './topology.js';

/**
 * The subject to publish `{ "op": ..., "input": ... }` to with JetStream, to signal `id`.
 * `partitions` is the hub's partition count (default 16, fixed at hub creation). A message sent
 * with another count is still applied: the partition that receives it forwards it home.
 * @example signalSubject('demo', new EntityId('counter', 'u1')) // 'demo.in.<p>.e.counter.u1'
 */
export function signalSubject(hub: string, id: EntityId | string, partitions = DEFAULT_PARTITIONS): string {
  return entityInboxSubject(hub, EntityId.from(id), partitions);
}
