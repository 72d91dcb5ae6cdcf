/**
 * Reads a stream's messages straight from one node's file store (nats-server 2.9 `.blk` files),
 * so that replicas can be compared message by message: the server's own APIs answer from the
 * leader (STREAM.MSG.GET) or from an unknown replica (DIRECT.GET, ephemeral consumers).
 *
 * Record layout (server/filestore.go, 2.9): u32 length (high bit: has headers), u64 sequence
 * (high bit: deleted), i64 timestamp, u16 subject length, subject, [u32 header length, headers],
 * payload, u64 hash. Test-only and read-only; a block still being written may end in a partial
 * record, which is ignored.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BlockRecord {
  seq: number;
  ts: bigint;
  subject: string;
  msgId?: string;
  body: string;
}

const HAS_HEADERS = 0x80000000;
const td = new TextDecoder();

/** Live (not deleted) messages of `stream` in a node's store dir (the `store_dir` of that node). */
export function readStreamBlocks(storeDir: string, stream: string, account = '$G'): Map<number, BlockRecord> {
  const dir = join(storeDir, 'jetstream', account, 'streams', stream, 'msgs');
  const out = new Map<number, BlockRecord>();
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => f.endsWith('.blk'))
      .sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
  } catch {
    return out;
  }
  for (const f of files) {
    const b = readFileSync(join(dir, f));
    let i = 0;
    while (i + 22 <= b.length) {
      const raw = b.readUInt32LE(i);
      const len = raw & ~HAS_HEADERS;
      if (len === 0 || i + len > b.length) break;
      const seqRaw = b.readBigUInt64LE(i + 4);
      const deleted = seqRaw >> 63n === 1n;
      const seq = Number(seqRaw & ((1n << 63n) - 1n));
      const ts = b.readBigInt64LE(i + 12);
      const slen = b.readUInt16LE(i + 20);
      const subject = td.decode(b.subarray(i + 22, i + 22 + slen));
      let j = i + 22 + slen;
      let headers = '';
      if (raw & HAS_HEADERS) {
        const hlen = b.readUInt32LE(j);
        headers = td.decode(b.subarray(j + 4, j + 4 + hlen));
        j += 4 + hlen;
      }
      const body = td.decode(b.subarray(j, i + len - 8));
      const msgId = /Nats-Msg-Id:\s*([^\r\n]*)/i.exec(headers)?.[1];
      if (!deleted) out.set(seq, { seq, ts, subject, ...(msgId ? { msgId } : {}), body });
      i += len;
    }
  }
  return out;
}

const brief = (r: BlockRecord | undefined) => (r ? `${r.subject} ${r.msgId ?? ''}` : 'absent');

/**
 * Sequences (up to the lowest last sequence of the three copies, so a replica that is merely
 * behind does not count) where the nodes' stored copies of `stream` hold different messages.
 */
export function replicaDifferences(clusterDir: string, stream: string): Array<{ seq: number; n1: string; n2: string; n3: string }> {
  const copies = [1, 2, 3].map((n) => readStreamBlocks(join(clusterDir, `n${n}`), stream));
  const upTo = Math.min(...copies.map((c) => Math.max(0, ...c.keys())));
  const out: Array<{ seq: number; n1: string; n2: string; n3: string }> = [];
  for (let seq = 1; seq <= upTo; seq++) {
    const [a, b, c] = copies.map((copy) => brief(copy.get(seq)));
    if (a !== b || b !== c) out.push({ seq, n1: a!, n2: b!, n3: c! });
  }
  return out;
}
