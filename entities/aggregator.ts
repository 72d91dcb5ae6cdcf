/**
 * Per-device readings: count, sum, min, max, mean and the last N values (a sliding window).
 * Shows a zod-validated input object and a state that stays bounded however many readings come.
 */
import { z } from 'zod';
import { entity } from '../src/index.js';

export const WINDOW = 10;

const reading = z.object({ value: z.number().finite(), at: z.string().optional() });

export interface AggregatorState {
  count: number;
  sum: number;
  min: number | null;
  max: number | null;
  last: number[];
}

export const aggregator = entity('aggregator', {
  state: (): AggregatorState => ({ count: 0, sum: 0, min: null, max: null, last: [] }),
  operations: {
    record: {
      input: reading,
      handler: (s, r: z.infer<typeof reading>) => {
        s.count += 1;
        s.sum += r.value;
        s.min = s.min === null ? r.value : Math.min(s.min, r.value);
        s.max = s.max === null ? r.value : Math.max(s.max, r.value);
        s.last.push(r.value);
        if (s.last.length > WINDOW) s.last.splice(0, s.last.length - WINDOW);
      },
    },
    summary: (s) => ({ count: s.count, sum: s.sum, min: s.min, max: s.max, mean: s.count ? s.sum / s.count : null, last: s.last }),
    reset: (s) => {
      Object.assign(s, { count: 0, sum: 0, min: null, max: null, last: [] });
    },
  },
});
