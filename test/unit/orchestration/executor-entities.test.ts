import { describe, expect, it } from 'vitest';
import { actionsFromEvents } from '../../../src/orchestration/actions.js';
import { EntityId } from '../../../src/core/entity-id.js';
import { orchestration } from '../../../src/orchestration/definition.js';
import { h } from '../../../src/orchestration/history-builders.js';
import { run } from './fixtures.js';

const transfer = orchestration('transfer', function* (ctx, amount: number) {
  ctx.signalEntity(new EntityId('audit', 'log'), 'Record', amount);
  const lock = yield ctx.lockEntities('@account@b', new EntityId('Account', 'a'), '@account@b');
  const balance: number = yield ctx.callEntity('@account@a', 'get');
  if (balance < amount) return 'insufficient';
  yield ctx.all([ctx.callEntity('@account@a', 'add', -amount), ctx.callEntity('@account@b', 'add', amount)]);
  lock.release();
  return 'done';
});

const locked = [h.started('transfer', 10), h.entitySignaled(1, '@audit@log', 'record', 10), h.lockRequested(2, ['@account@a', '@account@b'])];

describe('entities', () => {
  it('signals (plain call) and requests a sorted, deduplicated lock set from the first entity', () => {
    const r = run(transfer, [], [h.started('transfer', 10)]);
    expect(r.events).toEqual(locked.slice(1));
    expect(r.actions).toEqual([
      { type: 'sendEntityMessage', kind: 'signal', entityId: '@audit@log', op: 'record', input: 10 },
      { type: 'sendEntityMessage', kind: 'lock', entityId: '@account@a', lockId: 2, lockSet: ['@account@a', '@account@b'] },
    ]);
  });

  it('calls locked entities inside the critical section with the lock id', () => {
    const r = run(transfer, locked, [h.lockGranted(2)]);
    expect(r.actions).toEqual([{ type: 'sendEntityMessage', kind: 'call', entityId: '@account@a', op: 'get', requestId: 3, lockId: 2 }]);
  });

  it('releases explicitly (one unlock per entity) and completes', () => {
    const history = [
      ...locked,
      h.lockGranted(2),
      h.entityCalled(3, '@account@a', 'get'),
      h.entityResponded(3, 50),
      h.entityCalled(4, '@account@a', 'add', -10),
      h.entityCalled(5, '@account@b', 'add', 10),
      h.entityResponded(5, null),
    ];
    const r = run(transfer, history, [h.entityResponded(4, null)]);
    expect(r.events).toEqual([h.unlockSent(6, 2, ['@account@a', '@account@b']), h.completed('done')]);
    expect(r.actions).toEqual(actionsFromEvents(r.events, { instanceId: 'i1' }));
    expect(r.actions).toEqual([
      { type: 'sendEntityMessage', kind: 'unlock', entityId: '@account@a', lockId: 2 },
      { type: 'sendEntityMessage', kind: 'unlock', entityId: '@account@b', lockId: 2 },
    ]);
  });

  it('releases a still-held lock at completion', () => {
    const r = run(transfer, [...locked, h.lockGranted(2), h.entityCalled(3, '@account@a', 'get')], [h.entityResponded(3, 1)]);
    expect(r.ex.state.output).toBe('insufficient');
    expect(r.events.map((e) => e.type)).toEqual(['EntityUnlockSent', 'ExecutionCompleted']);
    expect(r.actions.map((a) => a.type === 'sendEntityMessage' && a.kind)).toEqual(['unlock', 'unlock']);
  });

  it('throws an entity failure into the generator', () => {
    const def = orchestration('callfail', function* (ctx) {
      try {
        yield ctx.callEntity('@c@k', 'op');
      } catch (e) {
        return (e as Error).message;
      }
    });
    const r = run(def, [h.started('callfail'), h.entityCalled(1, '@c@k', 'op')], [h.entityFailed(1, 'nope')]);
    expect(r.ex.state.output).toBe('nope');
  });

  it('rejects calling an unlocked entity inside a critical section', () => {
    const def = orchestration('badcall', function* (ctx) {
      yield ctx.lockEntities('@c@a');
      yield ctx.callEntity('@c@b', 'get');
    });
    const r = run(def, [h.started('badcall'), h.lockRequested(1, ['@c@a'])], [h.lockGranted(1)]);
    expect(r.ex.state.failure).toMatchObject({ code: 'validation' });
    expect(r.events.map((e) => e.type)).toEqual(['EntityUnlockSent', 'ExecutionCompleted']);
  });
});
