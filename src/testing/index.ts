/**
 * `durable-nats/testing`: test orchestrations and entities without a server.
 * Phase 1 exports the history replay (the safe-deploy check) and the virtual clock; TestHost
 * (the engine on the in-memory fabric) follows in phase 2 (docs/testing.md).
 */
export { replayHistory } from './replay.js';
export type { RecordedHistory, ReplaySummary } from './replay.js';
export { VirtualClock } from './virtual-clock.js';
export type { CancelTimer, Clock } from '../core/clock.js';
export { MemoryFabric, MemoryStore } from './memory-fabric.js';
export { TestHost } from './test-host.js';
export type { TestHostOptions } from './test-host.js';
