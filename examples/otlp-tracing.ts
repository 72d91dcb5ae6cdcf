/**
 * Send durable-nats traces to an OpenTelemetry collector (OTLP over HTTP), or print them.
 *
 *   npx tsx examples/otlp-tracing.ts                       # no collector: spans printed to the console
 *   OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 npx tsx examples/otlp-tracing.ts
 *                                                          # to a collector (Jaeger, Tempo, otelcol...)
 *   NATS_URL=nats://127.0.0.1:4222 ...                     # use a running server (default: start a private one)
 *
 * What an application does: register an SDK once, before it starts workers and clients. durable-nats
 * itself only uses @opentelemetry/api; it emits nothing until a provider is registered.
 * The run: a worker and a client in this process, one `startNew('helloSequence')` (three activities)
 * and one `callEntity`: two traces, printed with their ids at the end.
 */
import { pino } from 'pino';
import { trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BatchSpanProcessor, ConsoleSpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { DurableClient, EntityId, Worker } from '../src/index.js';
import { counter } from '../entities/counter.js';
import { helloSequence, sayHello } from '../orchestrations/hello-sequence.js';
import { startNatsServer } from '../test/helpers/nats-server.js';

const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
// 1. The SDK: OTLP/HTTP to the collector when one is configured, else the console.
//    register() also installs the AsyncLocalStorage context manager and the W3C propagator.
const provider = new NodeTracerProvider({
  spanProcessors: [endpoint
    ? new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint.replace(/\/$/, '')}/v1/traces` }))
    : new SimpleSpanProcessor(new ConsoleSpanExporter())],
});
provider.register();

// 2. durable-nats as usual.
const server = process.env.NATS_URL ? undefined : await startNatsServer();
const servers = process.env.NATS_URL ?? server!.url;
const hub = 'otlp-example';
const worker = await Worker.start({ servers, hub, entities: [counter], orchestrations: [helloSequence], activities: [sayHello], logger: pino({ level: 'warn' }) });
const client = await DurableClient.connect({ servers, hub });

// 3. Work inside an application span, as a request handler would: everything joins its trace.
const tracer = trace.getTracer('otlp-example');
await tracer.startActiveSpan('checkout request', async (span) => {
  const id = await client.startNew('helloSequence');
  const status = await client.waitForCompletion(id, { timeoutMs: 30_000 });
  console.log(`orchestration ${id}: ${status.runtimeStatus} ${JSON.stringify(status.output)}; trace ${span.spanContext().traceId}`);
  span.end();
});
// A call outside any span is a trace of its own: the client span and the entity operation.
await client.callEntity(new EntityId('counter', 'otlp'), 'add', 1);

await client.close();
await worker.stop();
await provider.forceFlush();
await provider.shutdown();
await server?.stop();
console.log(endpoint ? `spans sent to ${endpoint}/v1/traces` : 'spans printed above (set OTEL_EXPORTER_OTLP_ENDPOINT to send them to a collector)');
