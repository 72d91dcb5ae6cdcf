/**
 * The JSON shapes of Durable Functions' HTTP API, built from durable-nats' own types: the
 * check-status payload (management URIs), the instance status, the entity list item, the public
 * status and the client data a `durable-functions` DurableClient is constructed with.
 *
 * Invariants: a DF status always has the keys `input`, `output` and `customStatus` (null when
 * empty; the DF client rejects a status without them); the public status carries `id`,
 * `status` and `result` and nothing else; management URIs carry the system key (as DF's do),
 * so they are only ever returned to a caller that presented the key.
 */
import { EntityId } from '../core/entity-id.js';
import type { OrchestrationStatus, RuntimeStatus } from '../client/status.js';
import { toDfHistory, type DfHistoryEvent } from './df-history.js';

export const WEBHOOK_BASE = '/runtime/webhooks/durabletask';

/** What the URIs are built from: the origin the caller used, the hub and the system key. */
export interface UriContext {
  origin: string;
  hub: string;
  key: string;
}

/** DF's `{eventName}` and `{text}` placeholders are kept literally: the caller fills them in. */
export interface CheckStatusPayload {
  id: string;
  statusQueryGetUri: string;
  sendEventPostUri: string;
  terminatePostUri: string;
  rewindPostUri: string;
  purgeHistoryDeleteUri: string;
  restartPostUri: string;
  suspendPostUri: string;
  resumePostUri: string;
}

/** DF appends `&showHistory=...` to these templates, so each one already has a query string. */
function commonQuery(u: UriContext): string {
  return `taskHub=${encodeURIComponent(u.hub)}&connection=Storage&code=${encodeURIComponent(u.key)}`;
}

/** `pathId` is the id as it appears in the path (encoded, or DF's INSTANCEID placeholder). */
function managementUris(u: UriContext, id: string, pathId: string): CheckStatusPayload {
  const q = commonQuery(u);
  const inst = `${u.origin}${WEBHOOK_BASE}/instances/${pathId}`;
  return {
    id,
    statusQueryGetUri: `${inst}?${q}`,
    sendEventPostUri: `${inst}/raiseEvent/{eventName}?${q}`,
    terminatePostUri: `${inst}/terminate?reason={text}&${q}`,
    rewindPostUri: `${inst}/rewind?reason={text}&${q}`,
    purgeHistoryDeleteUri: `${inst}?${q}`,
    restartPostUri: `${inst}/restart?${q}`,
    suspendPostUri: `${inst}/suspend?reason={text}&${q}`,
    resumePostUri: `${inst}/resume?reason={text}&${q}`,
  };
}

export function checkStatusPayload(u: UriContext, instanceId: string): CheckStatusPayload {
  return managementUris(u, instanceId, encodeURIComponent(instanceId));
}

/**
 * The `durableClient` binding data of Azure Functions (OrchestrationClientInputData): pass it to
 * the `durable-functions` DurableClient and that client talks to this server unchanged.
 */
export function clientData(u: UriContext) {
  const PLACEHOLDER = 'INSTANCEID';
  const orchestrators = `${u.origin}${WEBHOOK_BASE}/orchestrators/{functionName}[/{instanceId}]`;
  const code = `code=${encodeURIComponent(u.key)}`;
  return {
    taskHubName: u.hub,
    creationUrls: {
      createNewInstancePostUri: `${orchestrators}?${code}`,
      createAndWaitOnNewInstancePostUri: `${orchestrators}?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&${code}`,
    },
    managementUrls: managementUris(u, PLACEHOLDER, PLACEHOLDER),
    baseUrl: `${u.origin}${WEBHOOK_BASE}`,
    requiredQueryStringParameters: commonQuery(u),
  };
}

export interface DfStatus {
  name: string;
  instanceId: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  failureDetails?: OrchestrationStatus['failureDetails'];
  historyEvents?: DfHistoryEvent[];
}

export interface DfStatusOptions {
  showInput?: boolean;
  /** Include results and payloads in history events (DF's showHistoryOutput); see df-history.ts. */
  showHistoryOutput?: boolean;
}

/** DF puts a failed instance's message in `output`; durable-nats adds `failureDetails` beside it. */
export function dfStatus(s: OrchestrationStatus, options: DfStatusOptions = {}): DfStatus {
  const failed = s.runtimeStatus === 'Failed';
  return {
    name: s.name,
    instanceId: s.instanceId,
    runtimeStatus: s.runtimeStatus,
    input: options.showInput === false ? null : (s.input ?? null),
    customStatus: s.customStatus ?? null,
    output: failed ? (s.failureDetails?.message ?? s.output ?? null) : (s.output ?? null),
    createdTime: s.createdTime,
    lastUpdatedTime: s.lastUpdatedTime,
    ...(s.failureDetails ? { failureDetails: s.failureDetails } : {}),
    ...(s.history ? { historyEvents: toDfHistory(s.history, { showHistoryOutput: options.showHistoryOutput === true }) } : {}),
  };
}

/** The public, key-less view: whether it is done and, if it completed, its result. */
export function publicStatus(s: OrchestrationStatus): { id: string; status: RuntimeStatus; result: unknown } {
  return { id: s.instanceId, status: s.runtimeStatus, result: s.runtimeStatus === 'Completed' ? (s.output ?? null) : null };
}

export interface DfEntityItem {
  entityId: { name: string; key: string };
  state?: unknown;
}

export function dfEntityItem(item: { id: string; state?: unknown }, fetchState: boolean): DfEntityItem {
  const id = EntityId.parse(item.id);
  return { entityId: { name: id.name, key: id.key }, ...(fetchState ? { state: item.state ?? null } : {}) };
}
