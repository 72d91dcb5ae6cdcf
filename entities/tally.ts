/**
 * A tally whose state is a bare number, as in Durable Functions' own counter sample: a primitive
 * state has nothing to draft, so operations replace it with ctx.setState.
 */
import { z } from 'zod';
import { entity } from '../src/index.js';

export const tally = entity('tally', {
  state: () => 0,
  operations: {
    add: { input: z.number(), handler: (s, n: number, ctx) => ctx.setState(s + n) },
    reset: (_s, _i, ctx) => ctx.setState(0),
    get: (s) => s,
    /** Fails on purpose after setState: the tally stays unchanged. */
    addPositive: {
      input: z.number(),
      handler: (s, n: number, ctx) => {
        ctx.setState(s + n);
        if (n < 0) throw new Error(`negative amount ${n}`);
      },
    },
  },
});
