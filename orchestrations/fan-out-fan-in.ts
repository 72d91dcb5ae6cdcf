/**
 * Fan-out/fan-in: run many activities in parallel and aggregate their results. Here: the byte
 * size of N generated "files" (activity per file), summed.
 */
import { activity, orchestration } from '../src/index.js';

/** Pretends to read file `i`: its size is deterministic so tests can check the sum. */
export const fileSize = activity('fileSize', async (i: number) => Buffer.byteLength(`file-${i}:`.repeat((i % 10) + 1)));

export const expectedTotalBytes = (count: number) => Array.from({ length: count }, (_, i) => Buffer.byteLength(`file-${i}:`.repeat((i % 10) + 1))).reduce((a, b) => a + b, 0);

export const fanOutFanIn = orchestration('fanOutFanIn', function* (ctx, input: { count: number }) {
  const tasks = Array.from({ length: input.count }, (_, i) => ctx.callActivity('fileSize', i));
  const sizes: number[] = yield ctx.all(tasks);
  return { files: sizes.length, totalBytes: sizes.reduce((a, b) => a + b, 0) };
});
