/**
 * Prometheus metrics of a worker (prom-client: the de-facto standard Node exporter; a registry
 * per worker so several workers in one process do not collide).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface WorkerMetrics {
  registry: Registry;
  applied: Counter;
  batchSize: Histogram;
  commitLatency: Histogram;
  fenced: Counter;
  deadLetters: Counter;
  timerLag: Histogram;
  partitionsOwned: Gauge;
  activitiesRun: Counter;
  activityRedeliveries: Counter;
  orchestrationSteps: Counter;
  /** Activity work items not yet delivered (num_pending of each activity consumer), sampled on scrape. */
  activityQueueDepth: Gauge;
  /** Activity work items delivered and not yet acked (num_ack_pending), sampled on scrape. */
  activityInFlight: Gauge;
  /** Registers a sampler run before every scrape (e.g. consumer info for the queue gauges). */
  onScrape(sample: () => Promise<void>): void;
}

export function createWorkerMetrics(labels: Record<string, string>): WorkerMetrics {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  const r = [registry];
  const samplers: Array<() => Promise<void>> = [];
  // Both queue gauges are filled by one sampler; the first gauge collected runs it.
  let sampling: Promise<void> | undefined;
  const sample = async () => {
    sampling ??= Promise.allSettled(samplers.map((s) => s()))
      .then(() => undefined)
      .finally(() => setImmediate(() => (sampling = undefined)));
    await sampling;
  };
  return {
    registry,
    applied: new Counter({ name: 'durable_operations_applied_total', help: 'Entity operations applied', registers: r }),
    batchSize: new Histogram({ name: 'durable_batch_size', help: 'Inbox messages per batch', buckets: [1, 2, 5, 10, 50, 100, 500, 1000, 5000], registers: r }),
    commitLatency: new Histogram({
      name: 'durable_commit_seconds',
      help: 'Batch processing time: prepare + append + effects',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
      registers: r,
    }),
    fenced: new Counter({ name: 'durable_fenced_appends_total', help: 'Appends rejected by the fence (another writer)', registers: r }),
    deadLetters: new Counter({ name: 'durable_dead_letters_total', help: 'Messages parked in the dead-letter stream', registers: r }),
    timerLag: new Histogram({
      name: 'durable_timer_lag_seconds',
      help: 'Delay between a timer due time and its firing',
      buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers: r,
    }),
    partitionsOwned: new Gauge({ name: 'durable_partitions_owned', help: 'Partitions whose lease this worker holds', registers: r }),
    activitiesRun: new Counter({ name: 'durable_activities_total', help: 'Activity executions', labelNames: ['outcome'], registers: r }),
    activityRedeliveries: new Counter({ name: 'durable_activity_redeliveries_total', help: 'Activity messages delivered more than once', registers: r }),
    orchestrationSteps: new Counter({ name: 'durable_orchestration_steps_total', help: 'Orchestration instance batches processed', registers: r }),
    activityQueueDepth: new Gauge({
      name: 'durable_activity_queue_depth',
      help: 'Activity work items waiting for a worker (consumer num_pending)',
      labelNames: ['activity'],
      registers: r,
      collect: sample,
    }),
    activityInFlight: new Gauge({
      name: 'durable_activity_in_flight',
      help: 'Activity work items delivered and not yet acked (consumer num_ack_pending)',
      labelNames: ['activity'],
      registers: r,
      collect: sample,
    }),
    onScrape: (s) => void samplers.push(s),
  };
}
