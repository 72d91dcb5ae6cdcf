/**
 * Async HTTP API: a long-running job started over HTTP (`POST /api/orchestrators/longJob`),
 * whose progress clients follow with the status URI (customStatus) until it completes.
 */
import { activity, orchestration } from '../src/index.js';

export const processChunk = activity('processChunk', async (chunk: { index: number; delayMs: number }) => {
  await new Promise((r) => setTimeout(r, chunk.delayMs));
  return chunk.index * 10;
});

export const longJob = orchestration('longJob', function* (ctx, input: { chunks: number; delayMs?: number }) {
  let total = 0;
  for (let index = 0; index < input.chunks; index++) {
    total += yield ctx.callActivity('processChunk', { index, delayMs: input.delayMs ?? 50 });
    ctx.setCustomStatus({ done: index + 1, of: input.chunks });
  }
  return { total };
});
