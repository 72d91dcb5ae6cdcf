/**
 * The hub's catalog: workers publish what they host (names, operations, input schemas as JSON
 * Schema) so that any client, in any process, validates input before anything is written.
 * Invariant: a catalog entry only ever gains names from a worker's definitions; it never invents.
 */
import { z, type ZodType } from 'zod';
import { encodeJson } from '../core/codec.js';
import { encodeToken } from '../core/encoding.js';
import type { EntityDefinition } from '../entity/definition.js';
import type { KvBucket } from '../store/fabric.js';
import { withStartupRetry, type StartupRetryOptions } from '../store/startup.js';

export interface CatalogEntry {
  kind: 'entity' | 'orchestration' | 'activity';
  name: string;
  /** For entities: operation name -> JSON Schema of its input (null = anything). */
  operations?: Record<string, { input: unknown | null }>;
  updatedAt: string;
}

export const catalogKey = (kind: CatalogEntry['kind'], name: string) => `${kind}.${encodeToken(name)}`;

function toJsonSchema(schema: ZodType | undefined): unknown | null {
  if (!schema) return null;
  try {
    return z.toJSONSchema(schema, { unrepresentable: 'any' });
  } catch {
    return null;
  }
}

export function entityCatalogEntry(def: EntityDefinition): CatalogEntry {
  const operations: Record<string, { input: unknown | null }> = {};
  for (const [name, op] of def.operations) operations[name] = { input: toJsonSchema(op.input) };
  return { kind: 'entity', name: def.name, operations, updatedAt: new Date().toISOString() };
}

/** Puts are idempotent (last writer wins with the same definitions), so each is retried alone. */
export async function publishCatalog(kv: KvBucket, entries: CatalogEntry[], startup?: StartupRetryOptions): Promise<void> {
  await Promise.all(entries.map((e) => withStartupRetry(`catalog entry ${e.kind} ${e.name}`, () => kv.put(catalogKey(e.kind, e.name), encodeJson(e)), startup)));
}
