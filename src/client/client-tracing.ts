/**
 * Client spans: wraps the DurableClient methods that send something (signals, calls, starts,
 * events, control operations) in a span of the caller's trace. What they publish carries that
 * span's `traceparent` (InstanceClient.publish injects the active context), so the operation, the
 * orchestration episodes and everything they cause join the caller's trace.
 *
 * Invariant: without an SDK, a wrapped method is the original method plus one check (no span, no
 * context, no header). Installed once, on the prototype, so the methods' bodies stay as they are.
 */
import { EntityId } from '../core/entity-id.js';
import { attr, SpanKind, tracingEnabled, withSpan } from '../core/tracing.js';
import type { Attributes } from '@opentelemetry/api';

type Method = (this: Traced, ...args: never[]) => Promise<unknown>;
interface Traced {
  hub: { names: { hub: string } };
}

const entity =
  (kind: SpanKind, method: string) =>
  (args: unknown[]): [string, SpanKind, Attributes] => {
    const id = safeEntity(args[0]);
    const op = String(args[1]).toLowerCase(); // as the worker names it (names are case-insensitive)
    return [`${method} ${id?.name ?? '?'}.${op}`, kind, { ...(id ? { [attr.entityName]: id.name, [attr.entityKey]: id.key } : {}), [attr.operation]: op }];
  };
const instance =
  (method: string) =>
  (args: unknown[]): [string, SpanKind, Attributes] => [method, SpanKind.PRODUCER, { [attr.instanceId]: String(args[0]) }];

/** Span name, kind and attributes of each traced method, from its arguments. */
const TRACED: Record<string, (args: unknown[]) => [string, SpanKind, Attributes]> = {
  signalEntity: entity(SpanKind.PRODUCER, 'signalEntity'),
  callEntity: entity(SpanKind.CLIENT, 'callEntity'),
  startNew: (args) => {
    const o = args[1] as { instanceId?: unknown } | undefined;
    const name = String(args[0]).toLowerCase(); // as the worker names it (names are case-insensitive)
    return [`startNew ${name}`, SpanKind.PRODUCER, { [attr.orchestration]: name, ...(typeof o?.instanceId === 'string' ? { [attr.instanceId]: o.instanceId } : {}) }];
  },
  raiseEvent: (args) => [`raiseEvent ${String(args[1])}`, SpanKind.PRODUCER, { [attr.instanceId]: String(args[0]) }],
  terminate: instance('terminate'),
  suspend: instance('suspend'),
  resume: instance('resume'),
  restart: instance('restart'),
  rewind: instance('rewind'),
};

/** Wraps the traced methods of a client class's prototype (idempotent per prototype). */
export function traceClientMethods(proto: object): void {
  const target = proto as Record<string, unknown>;
  for (const [name, describe] of Object.entries(TRACED)) {
    const original = target[name] as Method | undefined;
    if (typeof original !== 'function' || (original as { traced?: true }).traced) continue;
    const wrapped = function (this: Traced, ...args: never[]): Promise<unknown> {
      // The one check first: the span's name and attributes are built only when it is recorded.
      if (!tracingEnabled()) return original.apply(this, args);
      const [spanName, kind, attributes] = describe(args);
      return withSpan(
        spanName,
        kind,
        { [attr.hub]: this.hub.names.hub, ...attributes },
        () => original.apply(this, args),
        // startNew without an instanceId: the generated id is known once it resolves.
        name === 'startNew' ? (id) => ({ [attr.instanceId]: String(id) }) : undefined,
      );
    };
    Object.defineProperty(wrapped, 'traced', { value: true });
    Object.defineProperty(wrapped, 'name', { value: name });
    target[name] = wrapped;
  }
}

function safeEntity(x: unknown): EntityId | undefined {
  try {
    return EntityId.from(x as EntityId | string);
  } catch {
    return undefined;
  }
}
