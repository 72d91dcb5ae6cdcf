/** A counter per key: the "hello world" of durable entities. */
import { z } from 'zod';
import { entity } from '../src/index.js';

export const counter = entity('counter', {
  state: () => ({ value: 0 }),
  operations: {
    add: {
      input: z.number(),
      handler: (s, n: number) => {
        s.value += n;
      },
    },
    reset: (s) => {
      s.value = 0;
    },
    get: (s) => s.value,
    /** Fails on purpose when the amount is negative: the state stays unchanged. */
    addPositive: {
      input: z.number(),
      handler: (s, n: number) => {
        if (n < 0) throw new Error(`negative amount ${n}`);
        s.value += n;
      },
    },
    delete: (_s, _i, ctx) => {
      ctx.deleteState();
    },
  },
});
