/**
 * Critical section over several entities: move money between two accounts under lockEntities,
 * so that no other operation sees (or interleaves with) the half-done transfer. Locks are taken
 * in a fixed order (sorted ids), so concurrent opposite transfers cannot deadlock.
 */
import { EntityId, orchestration } from '../src/index.js';

export interface TransferInput {
  from: string;
  to: string;
  amount: number;
}

export const transferFunds = orchestration('transferFunds', function* (ctx, input: TransferInput) {
  const from = new EntityId('account', input.from);
  const to = new EntityId('account', input.to);
  const lock = yield ctx.lockEntities(from, to);
  try {
    const balance: number = yield ctx.callEntity(from, 'balance');
    if (balance < input.amount) return { ok: false, reason: 'insufficient funds', balance };
    yield ctx.callEntity(from, 'withdraw', input.amount);
    yield ctx.callEntity(to, 'deposit', input.amount);
    return { ok: true };
  } finally {
    lock.release();
  }
});
