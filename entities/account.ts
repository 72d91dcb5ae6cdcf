/** A bank account: the entity the transfer orchestration moves money between under a lock. */
import { z } from 'zod';
import { entity } from '../src/index.js';

export const account = entity('account', {
  state: () => ({ balance: 0 }),
  operations: {
    deposit: {
      input: z.number().nonnegative(),
      handler: (s, n: number) => {
        s.balance += n;
      },
    },
    withdraw: {
      input: z.number().nonnegative(),
      handler: (s, n: number) => {
        if (s.balance < n) throw new Error(`insufficient funds: balance ${s.balance}, asked ${n}`);
        s.balance -= n;
      },
    },
    balance: (s) => s.balance,
  },
});
