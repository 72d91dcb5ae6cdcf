/**
 * The start-up error classifier and retry loop, without a server: errors are built as nats.js
 * builds them (RequestError caused by NoResponders, JetStreamApiError from a server's JSON error).
 */
import { JetStreamApiError } from '@nats-io/jetstream';
import { errors, RequestError } from '@nats-io/transport-node';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { DurableError } from '../../src/core/errors.js';
import { isAlreadyExists, isTransient, withStartupRetry } from '../../src/store/transient.js';

const api = (code: number, err_code: number, description: string) => new JetStreamApiError({ code, err_code, description });
const notEnabled = () =>
  Object.assign(new Error('jetstream is not enabled', { cause: new RequestError('no responders', { cause: new errors.NoRespondersError('$JS.API.INFO') }) }), {
    name: 'JetStreamNotEnabled',
  });

describe('isTransient', () => {
  it.each([
    ['request timeout', new errors.TimeoutError()],
    ['no responders', new RequestError('no responders', { cause: new errors.NoRespondersError('$JS.API.INFO') })],
    ['JetStreamNotEnabled (nats.js on no responders)', notEnabled()],
    ['503 temporarily unavailable', api(503, 10008, 'JetStream system temporarily unavailable')],
    ['no leader', api(500, 10009, 'JetStream cluster can not handle request')],
    ['no suitable peers', api(400, 10005, 'no suitable peers for placement')],
    ['JetStream not enabled (electing)', api(503, 10076, 'JetStream not enabled')],
    ['connection refused', new errors.ConnectionError('connection refused')],
    ['a fabric connection error wrapping a timeout', new DurableError('connection', 'work queue DN_x_ACT/act-a: timeout', { cause: new errors.TimeoutError() })],
    ['a fabric connection error wrapping no leader', new DurableError('connection', 'stream DN_x_IN: no leader', { cause: api(500, 10009, 'no leader') })],
  ])('%s is transient', (_, e) => expect(isTransient(e)).toBe(true));

  it.each([
    ['insufficient resources (503)', api(503, 10023, 'insufficient resources')],
    ['invalid stream config', api(400, 10052, 'stream configuration invalid')],
    ['stream name in use', api(400, 10058, 'stream name already in use with a different configuration')],
    ['closed connection', new errors.ClosedConnectionError()],
    ['authorization', new errors.AuthorizationError('Authorization Violation')],
    ['a DurableError', new DurableError('validation', 'timeout must be positive')],
    ['a connection DurableError without a cause', new DurableError('connection', 'the fabric connection is closed')],
    ['a connection DurableError wrapping a fatal error', new DurableError('connection', 'bucket x: insufficient resources', { cause: api(503, 10023, 'insufficient resources') })],
    ['a fenced DurableError wrapping a nats error', new DurableError('fenced', 'wrong last sequence', { cause: api(400, 10071, 'wrong last sequence: 3') })],
    ['a plain bug', new TypeError('x is undefined')],
  ])('%s is not transient', (_, e) => expect(isTransient(e)).toBe(false));

  it('recognises lost create races', () => {
    expect(isAlreadyExists(api(400, 10058, 'stream name already in use with a different configuration'))).toBe(true);
    expect(isAlreadyExists(api(400, 10013, 'consumer name already in use'))).toBe(true);
    expect(isAlreadyExists(api(503, 10008, 'JetStream system temporarily unavailable'))).toBe(false);
  });
});

function captured() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(c, _e, cb) {
      for (const l of String(c).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ level: 'warn' }, stream), lines };
}

describe('withStartupRetry', () => {
  it('retries transient errors with growing, logged delays until the step succeeds', async () => {
    const { logger, lines } = captured();
    let calls = 0;
    const t0 = Date.now();
    const v = await withStartupRetry(
      'stream X',
      async () => {
        if (++calls < 4) throw new errors.TimeoutError();
        return 'ok';
      },
      { timeoutMs: 5_000, logger },
    );
    expect(v).toBe('ok');
    expect(calls).toBe(4);
    // Delays 50-100, 100-200, 200-400 ms.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(340);
    expect(lines.map((l) => [l.step, l.attempt])).toEqual([
      ['stream X', 1],
      ['stream X', 2],
      ['stream X', 3],
    ]);
    const delays = lines.map((l) => l.retryInMs as number);
    expect(delays[2]!).toBeGreaterThanOrEqual(200);
    expect(delays[2]!).toBeLessThanOrEqual(400);
  });

  it('fails at once, as connection naming the step, on a non-transient error', async () => {
    let calls = 0;
    const err = await withStartupRetry(
      'KV bucket B',
      async () => {
        calls++;
        throw api(503, 10023, 'insufficient resources');
      },
      { timeoutMs: 5_000 },
    ).catch((e: unknown) => e);
    expect(calls).toBe(1);
    expect(DurableError.is(err, 'connection')).toBe(true);
    expect((err as Error).message).toBe('KV bucket B failed: insufficient resources');
  });

  it('gives up at the deadline with the step and the last cause, even while an attempt hangs', async () => {
    const t0 = Date.now();
    let late: unknown;
    let calls = 0;
    const err = await withStartupRetry(
      'connect',
      () => {
        calls++;
        if (calls === 1) return Promise.reject(new errors.ConnectionError('connection refused'));
        return new Promise<string>((r) => setTimeout(() => r('late connection'), 800));
      },
      {
        timeoutMs: 400,
        discardLate: (v) => {
          late = v;
        },
      },
    ).catch((e: unknown) => e);
    const ms = Date.now() - t0;
    expect(DurableError.is(err, 'connection')).toBe(true);
    expect((err as Error).message).toMatch(/^connect: gave up after \d+ ms \(start-up deadline\); last error: connection refused$/);
    expect(ms).toBeGreaterThanOrEqual(390);
    expect(ms).toBeLessThan(600);
    await new Promise((r) => setTimeout(r, 700));
    expect(late).toBe('late connection'); // a late success is handed back to be closed
  });
});
