/**
 * Names of entities, orchestrations, activities, operations and hubs.
 * Invariant: a name is compared lower-case everywhere (API.md: names are case-insensitive).
 */
import { DurableError } from './errors.js';

export type NameKind = 'entity' | 'orchestration' | 'activity' | 'operation' | 'event';

export function normalizeName(name: unknown, kind: NameKind): string {
  if (typeof name !== 'string' || name.trim().length === 0) {
    throw new DurableError('validation', `${kind} name must be a non-empty string`);
  }
  if (name.length > 256) throw new DurableError('validation', `${kind} name is longer than 256 characters`);
  return name.toLowerCase();
}

const HUB = /^[A-Za-z0-9_-]{1,64}$/;

export function validateHub(hub: string): string {
  if (!HUB.test(hub)) {
    throw new DurableError('validation', `hub '${hub}' must match ${HUB.source} (it names streams, buckets and subjects)`);
  }
  return hub;
}

export function validateInstanceId(id: unknown): string {
  if (typeof id !== 'string' || id.length === 0) throw new DurableError('validation', 'instance id must be a non-empty string');
  if (id.length > 512) throw new DurableError('validation', 'instance id is longer than 512 characters');
  return id;
}
