/**
 * JSON <-> bytes for everything durable-nats puts on the wire. One place, so that the encoding
 * can change (or be measured) without hunting call sites.
 */
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value ?? null));
}

export function decodeJson<T = unknown>(data: Uint8Array): T {
  return JSON.parse(decoder.decode(data)) as T;
}
