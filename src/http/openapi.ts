/**
 * The OpenAPI 3 description served at `GET /openapi.json`, written by hand to match the routes
 * (routes-*.ts, sse.ts): the Durable Functions management routes, entity history and schedules.
 * The console's own routes (bundle, live streams, workers, dead letters) are not part of it.
 */
const B = '/runtime/webhooks/durabletask';

const json = (schema: object = {}) => ({ 'application/json': { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const resp = (description: string, schema?: object) => ({ description, ...(schema ? { content: json(schema) } : {}) });
const err = (description: string) => resp(description, ref('Error'));
const path = (name: string, description = '') => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });
const query = (name: string, description: string, schema: object = { type: 'string' }) => ({ name, in: 'query', required: false, description, schema });
const keyed = { security: [{ code: [] }, { functionsKey: [] }] };
const anyBody = { required: false, content: json() };

const instanceId = path('instanceId');
const reason = query('reason', 'Recorded with the command');
const errors = { 400: err('Validation failed'), 401: err('Missing or wrong system key') };
const command = (summary: string) => ({
  post: {
    ...keyed,
    summary,
    parameters: [instanceId, reason],
    requestBody: anyBody,
    responses: { 202: resp('Accepted (durable)'), ...errors, 404: err('Unknown instance'), 410: err('Instance finished') },
  },
});
const start = (summary: string, okSchema: object) => ({
  post: {
    ...keyed,
    summary,
    requestBody: { ...anyBody, description: 'The orchestration input (JSON; may be empty)' },
    responses: { 202: resp('Started', okSchema), ...errors, 409: err('An instance with this id is not finished') },
  },
});
const listParams = [
  query('runtimeStatus', 'Comma list of statuses'),
  query('createdTimeFrom', 'ISO date'),
  query('createdTimeTo', 'ISO date'),
  query('instanceIdPrefix', 'Only ids starting with this'),
  query('top', 'Page size', { type: 'integer' }),
  { name: 'x-ms-continuation-token', in: 'header', required: false, schema: { type: 'string' } },
];

export const openApiDocument = {
  openapi: '3.0.3',
  info: { title: 'durable-nats HTTP API', version: '1', description: "Azure Durable Functions' management API on NATS JetStream. See docs/http.md." },
  components: {
    securitySchemes: {
      code: { type: 'apiKey', in: 'query', name: 'code' },
      functionsKey: { type: 'apiKey', in: 'header', name: 'x-functions-key' },
    },
    schemas: {
      Error: { type: 'object', properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } }, required: ['code', 'message'] } } },
      CheckStatus: {
        type: 'object',
        properties: Object.fromEntries(
          ['id', 'statusQueryGetUri', 'sendEventPostUri', 'terminatePostUri', 'rewindPostUri', 'purgeHistoryDeleteUri', 'restartPostUri', 'suspendPostUri', 'resumePostUri'].map(
            (k) => [k, { type: 'string' }],
          ),
        ),
      },
      Status: {
        type: 'object',
        required: ['name', 'instanceId', 'runtimeStatus', 'input', 'output', 'customStatus', 'createdTime', 'lastUpdatedTime'],
        properties: {
          name: { type: 'string' },
          instanceId: { type: 'string' },
          runtimeStatus: { type: 'string', enum: ['Pending', 'Running', 'Completed', 'ContinuedAsNew', 'Failed', 'Terminated', 'Suspended'] },
          input: {},
          output: {},
          customStatus: {},
          createdTime: { type: 'string' },
          lastUpdatedTime: { type: 'string' },
          failureDetails: { type: 'object' },
          historyEvents: { type: 'array', items: {} },
        },
      },
      PublicStatus: { type: 'object', properties: { id: { type: 'string' }, status: { type: 'string' }, result: {} } },
      Purged: { type: 'object', properties: { instancesDeleted: { type: 'integer' } } },
    },
  },
  paths: {
    [`${B}/orchestrators/{name}`]: { parameters: [path('name')], ...start('Start an orchestration', ref('CheckStatus')) },
    [`${B}/orchestrators/{name}/{instanceId}`]: { parameters: [path('name'), instanceId], ...start('Start an orchestration with this id', ref('CheckStatus')) },
    '/api/orchestrators/{name}': { parameters: [path('name')], ...start('Start (DF HTTP-starter form)', ref('CheckStatus')) },
    '/api/orchestrators/{name}/{instanceId}': { parameters: [path('name'), instanceId], ...start('Start with this id (DF HTTP-starter form)', ref('CheckStatus')) },
    '/api/start/{name}': { parameters: [path('name')], ...start('Start, answering only { id, statusUri }', { type: 'object' }) },
    '/api/start/{name}/{instanceId}': { parameters: [path('name'), instanceId], ...start('Start with this id, answering only { id, statusUri }', { type: 'object' }) },
    [`${B}/instances/{instanceId}`]: {
      get: {
        ...keyed,
        summary: 'Status',
        parameters: [
          instanceId,
          query('showHistory', 'true|false'),
          query('showHistoryOutput', 'true|false'),
          query('showInput', 'true|false'),
          query('waitForCompletion', 'Long poll: wait up to this long (30s, 2m, or ms)'),
        ],
        responses: { 200: resp('Terminal', ref('Status')), 202: resp('Not finished (Location: this URI)', ref('Status')), ...errors, 404: err('Unknown instance') },
      },
      delete: { ...keyed, summary: 'Purge one instance', parameters: [instanceId], responses: { 200: resp('Purged', ref('Purged')), ...errors, 404: err('Nothing to purge') } },
    },
    [`${B}/instances`]: {
      get: {
        ...keyed,
        summary: 'List instances (also with a trailing slash)',
        parameters: listParams,
        responses: { 200: resp('A page (next page token in x-ms-continuation-token)', { type: 'array', items: ref('Status') }), ...errors },
      },
      delete: {
        ...keyed,
        summary: 'Purge terminal instances matching the filters',
        parameters: listParams.slice(0, 3),
        responses: { 200: resp('Purged', ref('Purged')), ...errors },
      },
    },
    [`${B}/instances/{instanceId}/raiseEvent/{eventName}`]: {
      post: {
        ...keyed,
        summary: 'Raise an event',
        parameters: [instanceId, path('eventName')],
        requestBody: anyBody,
        responses: { 202: resp('Accepted'), ...errors, 404: err('Unknown instance'), 410: err('Instance finished') },
      },
    },
    [`${B}/instances/{instanceId}/terminate`]: command('Terminate'),
    [`${B}/instances/{instanceId}/suspend`]: command('Suspend'),
    [`${B}/instances/{instanceId}/resume`]: command('Resume'),
    [`${B}/instances/{instanceId}/rewind`]: {
      post: {
        ...command('Rewind a Failed instance').post,
        responses: { 202: resp('Accepted (durable)'), ...errors, 404: err('Unknown instance'), 412: err('The instance is not Failed') },
      },
    },
    [`${B}/instances/{instanceId}/restart`]: {
      post: {
        ...keyed,
        summary: 'Restart a finished instance with its input',
        parameters: [instanceId, query('restartWithNewInstanceId', 'true: under a new id')],
        responses: { 202: resp('Restarted', ref('CheckStatus')), ...errors, 404: err('Unknown instance'), 409: err('Not finished') },
      },
    },
    [`${B}/instances/{instanceId}/events`]: {
      get: {
        ...keyed,
        summary: 'Server-Sent Events: each status change until terminal',
        parameters: [instanceId],
        responses: {
          200: { description: 'event: status, data: Status', content: { 'text/event-stream': { schema: { type: 'string' } } } },
          ...errors,
          404: err('Unknown instance'),
        },
      },
    },
    [`${B}/entities/{name}/{key}`]: {
      parameters: [path('name'), path('key', 'Percent-encoded')],
      post: {
        ...keyed,
        summary: 'Signal an operation',
        parameters: [{ ...query('op', 'Operation'), required: true }],
        requestBody: anyBody,
        responses: { 202: resp('Accepted (durable)'), ...errors },
      },
      get: {
        ...keyed,
        summary: 'Read the state; with ?version=N or ?at=ISO, { exists, state?, version, time } of that version',
        parameters: [query('version', 'A version (routes-entity-history)', { type: 'integer' }), query('at', 'ISO date: the last version at or before')],
        responses: { 200: resp('The state (or the version)', {}), ...errors, 404: err('No such entity, or that version is not kept') },
      },
    },
    [`${B}/entities/{name}/{key}/history`]: {
      get: {
        ...keyed,
        summary: 'Versions with the operations applied in each',
        parameters: [
          path('name'),
          path('key'),
          query('fromVersion', 'First version', { type: 'integer' }),
          query('limit', '1..1000 (default 100)', { type: 'integer' }),
          query('reverse', 'true: newest first'),
        ],
        responses: { 200: resp('{ versions: [{ version, time, exists, state, operations: [{ op, input? }] }], next? }', { type: 'object' }), ...errors },
      },
    },
    [`${B}/entities/{name}/{key}/watch`]: {
      get: {
        ...keyed,
        summary: 'Server-Sent Events: the current version, then every new one',
        parameters: [path('name'), path('key')],
        responses: { 200: { description: 'data: { version, time, exists, state }', content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...errors },
      },
    },
    [`${B}/entities/{name}/{key}/restore`]: {
      post: {
        ...keyed,
        summary: "Write a new version equal to an earlier one (through the entity's inbox)",
        parameters: [path('name'), path('key')],
        requestBody: { required: true, content: json({ type: 'object', properties: { version: { type: 'integer' } }, required: ['version'] }) },
        responses: { 200: resp('{ version }', { type: 'object' }), ...errors, 404: err('That version is not kept') },
      },
    },
    [`${B}/schedules`]: {
      get: { ...keyed, summary: 'List schedules', responses: { 200: resp('{ schedules: [...] }', { type: 'object' }), ...errors } },
      post: {
        ...keyed,
        summary: 'Create a schedule: { id, cron | every, timezone?, action, overlap?, startAt?, endAt?, paused? }',
        requestBody: { required: true, content: json({ type: 'object' }) },
        responses: { 201: resp('The schedule', { type: 'object' }), ...errors, 409: err('A schedule with this id exists') },
      },
    },
    [`${B}/schedules/{id}`]: {
      get: {
        ...keyed,
        summary: 'A schedule with nextRuns and lastRun',
        parameters: [path('id')],
        responses: { 200: resp('The schedule', { type: 'object' }), ...errors, 404: err('No such schedule') },
      },
      delete: { ...keyed, summary: 'Delete a schedule', parameters: [path('id')], responses: { 200: resp('Deleted'), ...errors, 404: err('No such schedule') } },
    },
    [`${B}/schedules/{id}/pause`]: { post: { ...keyed, summary: 'Pause', parameters: [path('id')], responses: { 200: resp('Paused'), ...errors, 404: err('No such schedule') } } },
    [`${B}/schedules/{id}/resume`]: {
      post: { ...keyed, summary: 'Resume (from now)', parameters: [path('id')], responses: { 200: resp('Resumed'), ...errors, 404: err('No such schedule') } },
    },
    [`${B}/schedules/{id}/trigger`]: {
      post: {
        ...keyed,
        summary: 'Run the action once now',
        parameters: [path('id')],
        responses: { 200: resp('{ instanceId? }', { type: 'object' }), ...errors, 404: err('No such schedule') },
      },
    },
    [`${B}/entities/{name}/{key}/call`]: {
      parameters: [path('name'), path('key')],
      post: {
        ...keyed,
        summary: 'Call an operation and return its result (durable-nats extra)',
        parameters: [{ ...query('op', 'Operation'), required: true }, query('timeout', 'ms or 30s')],
        requestBody: anyBody,
        responses: { 200: resp('The result', {}), ...errors, 422: err('The operation failed'), 504: err('No answer in time') },
      },
    },
    [`${B}/entities`]: {
      get: {
        ...keyed,
        summary: 'List entities',
        parameters: [query('fetchState', 'true|false'), query('top', 'Page size')],
        responses: { 200: resp('A page', { type: 'array' }), ...errors },
      },
    },
    [`${B}/entities/{name}`]: {
      get: {
        ...keyed,
        summary: 'List entities of one name',
        parameters: [path('name'), query('fetchState', 'true|false'), query('top', 'Page size')],
        responses: { 200: resp('A page', { type: 'array' }), ...errors },
      },
    },
    [`${B}/client-data`]: {
      get: {
        ...keyed,
        summary: 'The durableClient binding data for the durable-functions JS client',
        responses: { 200: resp('OrchestrationClientInputData', { type: 'object' }), ...errors },
      },
    },
    '/api/status/{instanceId}': {
      get: { summary: 'Public status (no key)', parameters: [instanceId], responses: { 200: resp('Status', ref('PublicStatus')), 404: err('Unknown instance') } },
    },
    '/healthz': { get: { summary: 'NATS connectivity', responses: { 200: resp('Connected'), 503: resp('Not connected') } } },
  },
} as const;
