/**
 * Partition choice: FNV-1a (32-bit) over the UTF-8 bytes of an actor's address, modulo the hub's
 * partition count. Documented in docs/protocol.md so producers in any language compute the same.
 * Invariant: the same address always maps to the same partition for a given partition count.
 */

const encoder = new TextEncoder();

export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const b of encoder.encode(s)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export function partitionOf(address: string, partitions: number): number {
  return fnv1a32(address) % partitions;
}
