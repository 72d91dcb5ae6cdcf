/**
 * Golden histories (test/fixtures/histories/*.json): recorded runs replayed through today's code.
 * A change to the executor or to the example orchestrations that alters what they would record
 * shows up here as a diff against the checked-in history.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OrchestrationExecutor } from '../../../src/orchestration/executor.js';
import { actionsFromEvents } from '../../../src/orchestration/actions.js';
import { isSequenced, type HistoryEvent, type HistoryEventOf } from '../../../src/orchestration/history.js';
import { InstanceRuntime } from '../../../src/orchestration/instance.js';
import { helloSequence, orderFlow } from './fixtures.js';

interface Golden {
  description: string;
  orchestration: string;
  instanceId: string;
  history: HistoryEvent[];
  incoming?: HistoryEvent[];
  expected: { runtimeStatus: string; output?: unknown; customStatus?: unknown; failureDetails?: { errorType: string; messageContains: string } };
}

const dir = join(import.meta.dirname, '../../fixtures/histories');
const defs = [helloSequence, orderFlow];
const registry = { orchestrations: new Map(defs.map((d) => [d.name, d])) };
const goldens = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => [f, JSON.parse(readFileSync(join(dir, f), 'utf8')) as Golden] as const);

describe('golden histories', () => {
  it('there are at least two', () => expect(goldens.length).toBeGreaterThanOrEqual(2));

  for (const [file, g] of goldens) {
    describe(file, () => {
      it('reaches the expected status', () => {
        const rt = InstanceRuntime.fromHistory(registry, g.instanceId, g.history);
        const status = g.incoming ? rt.process(g.incoming, g.incoming[0]!.timestamp).status : rt.status;
        expect(status).toMatchObject({ runtimeStatus: g.expected.runtimeStatus, instanceId: g.instanceId });
        if ('output' in g.expected) expect(status?.output).toEqual(g.expected.output);
        if ('customStatus' in g.expected) expect(status?.customStatus).toEqual(g.expected.customStatus);
        if (g.expected.failureDetails) {
          expect(status?.failureDetails?.errorType).toBe(g.expected.failureDetails.errorType);
          expect(status?.failureDetails?.message).toContain(g.expected.failureDetails.messageContains);
        }
      });

      if (g.incoming) return;
      it('replays in full with nothing new to do', () => {
        const ex = new OrchestrationExecutor(defs.find((d) => d.name === g.orchestration.toLowerCase())!, g.instanceId);
        expect(ex.apply(g.history, true).ignored).toEqual([]);
        expect(ex.takeNew()).toEqual({ events: [], actions: [] });
        expect(ex.state.status).toBe(g.expected.runtimeStatus);
        expect(ex.state.output).toEqual(g.expected.output);
      });

      it('re-records every turn exactly (each inbound event produces the recorded tail)', () => {
        for (let i = 1; i < g.history.length; i++) {
          const e = g.history[i]!;
          if (isSequenced(e) || e.eventId !== -1 || e.type === 'ExecutionCompleted' || e.type === 'CustomStatusSet') continue;
          let end = i + 1;
          while (end < g.history.length && (isSequenced(g.history[end]!) || ['ExecutionCompleted', 'CustomStatusSet'].includes(g.history[end]!.type))) end++;
          const rt = InstanceRuntime.fromHistory(registry, g.instanceId, g.history.slice(0, i));
          const r = rt.process([e], e.timestamp);
          expect(r.appended).toEqual(g.history.slice(i, end));
          const start = g.history[0] as HistoryEventOf<'ExecutionStarted'>;
          expect(r.actions).toEqual(actionsFromEvents(r.appended, { instanceId: g.instanceId, runId: start.runId! }));
        }
      });
    });
  }
});
