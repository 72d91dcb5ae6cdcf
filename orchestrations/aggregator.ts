/**
 * Aggregator over entities: fan readings out to per-device aggregator entities (signals), then
 * fan their summaries in (calls) and combine them into a fleet report.
 */
import { EntityId, orchestration } from '../src/index.js';

export interface FleetInput {
  devices: string[];
  readings: Array<{ device: string; value: number }>;
}

export const fleetReport = orchestration('fleetReport', function* (ctx, input: FleetInput) {
  for (const r of input.readings) ctx.signalEntity(new EntityId('aggregator', r.device), 'record', { value: r.value });
  const summaries: Array<{ count: number; sum: number; min: number | null; max: number | null }> = yield ctx.all(
    input.devices.map((d) => ctx.callEntity(new EntityId('aggregator', d), 'summary')),
  );
  const count = summaries.reduce((a, s) => a + s.count, 0);
  const sum = summaries.reduce((a, s) => a + s.sum, 0);
  const maxes = summaries.map((s) => s.max).filter((m): m is number => m !== null);
  return { devices: input.devices.length, count, sum, max: maxes.length ? Math.max(...maxes) : null };
});
