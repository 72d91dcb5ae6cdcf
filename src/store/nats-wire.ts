/**
 * The wire formats of JetStream push deliveries that the lean follow (nats-follow.ts) reads
 * itself instead of through nats.js's JsMsg: the ack reply subject (stream and consumer
 * sequences) and a raw header block. Pure functions, no allocation per message on the ack path.
 *
 * Invariant: a subject or block that is not in the expected form is refused (false / undefined),
 * never read as sequences: a wrong sequence would skip or repeat a message.
 */

/** `$JS.ACK.` */
const ACK_PREFIX = [36, 74, 83, 46, 65, 67, 75, 46];
const DOT = 46;
const decoder = new TextDecoder();

/** The nats.js core message's raw parts (MsgImpl, @nats-io/nats-core 3.x); absent: the public getters are used. */
export interface RawMsg {
  _msg?: { reply?: Uint8Array; hdr: number };
  _rdata?: Uint8Array;
}

/** Stream and consumer sequences of the last parsed ack reply (one scratch record: no allocation per message). */
export const parsedAck = { streamSeq: 0, consumerSeq: 0 };

/**
 * Parses a JetStream ack reply subject into `parsedAck`; false when it is not one (a status message, a
 * flow-control request). Two forms (nats-server consumer.go):
 * `$JS.ACK.<stream>.<consumer>.<delivered>.<streamSeq>.<consumerSeq>.<timestamp>.<pending>` (9 tokens)
 * and `$JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<streamSeq>.<consumerSeq>.<timestamp>.<pending>[.<token>]` (11+).
 * Stream and consumer names cannot hold dots, so the token count tells the form.
 */
export function parseAckReply(b: Uint8Array): boolean {
  const n = b.length;
  if (n < 8) return false;
  for (let i = 0; i < 8; i++) if (b[i] !== ACK_PREFIX[i]) return false;
  let tokens = 3; // `$JS`, `ACK`, and the one after the prefix
  for (let i = 8; i < n; i++) if (b[i] === DOT) tokens++;
  // Index (0-based) of the stream sequence token.
  const at = tokens === 9 ? 5 : tokens >= 11 ? 7 : -1;
  if (at < 0) return false;
  let token = 0;
  let i = 0;
  while (token < at) if (b[i++] === DOT) token++;
  let s = 0;
  for (let d = b[i]! - 48; i < n && b[i] !== DOT; d = b[++i]! - 48) {
    if (d < 0 || d > 9) return false;
    s = s * 10 + d;
  }
  i++;
  let c = 0;
  for (let d = b[i]! - 48; i < n && b[i] !== DOT; d = b[++i]! - 48) {
    if (d < 0 || d > 9) return false;
    c = c * 10 + d;
  }
  if (!(s > 0 && c > 0)) return false;
  parsedAck.streamSeq = s;
  parsedAck.consumerSeq = c;
  return true;
}

/** The same, from the reply string (when nats.js's raw parts are not there). */
export function parseAckReplyString(reply: string | undefined): boolean {
  if (!reply?.startsWith('$JS.ACK.')) return false;
  const t = reply.split('.');
  const at = t.length === 9 ? 5 : t.length >= 11 ? 7 : -1;
  if (at < 0) return false;
  const s = Number(t[at]);
  const c = Number(t[at + 1]);
  if (!(s > 0 && c > 0)) return false;
  parsedAck.streamSeq = s;
  parsedAck.consumerSeq = c;
  return true;
}

/**
 * A header block (`NATS/1.0[ status]\r\nKey: value\r\n...\r\n\r\n`) as a Map of each key's first
 * value; undefined when it holds none.
 */
export function parseHeaderBlock(block: Uint8Array): Map<string, string> | undefined {
  const text = decoder.decode(block);
  let map: Map<string, string> | undefined;
  let start = text.indexOf('\r\n');
  while (start >= 0) {
    start += 2;
    const end = text.indexOf('\r\n', start);
    const line = end < 0 ? text.slice(start) : text.slice(start, end);
    const colon = line.indexOf(':');
    if (colon > 0) {
      const key = line.slice(0, colon).trim();
      if (!map) map = new Map();
      if (!map.has(key)) map.set(key, line.slice(colon + 1).trim());
    }
    start = end;
  }
  return map;
}
