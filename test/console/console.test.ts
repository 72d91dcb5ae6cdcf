/**
 * The console in a real browser (Debian's Chromium through playwright-core), against a real
 * nats-server, Worker and HTTP server: each view and each action, through user-visible text and
 * roles; the key gate; markup in entity state and orchestration output rendered as text with no
 * script run. Screenshots of the main views go to SHOTS (below).
 */
import { natsOf } from '../../src/store/nats-hub.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { pino } from 'pino';
import { z } from 'zod';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { activity, DurableClient, entity, orchestration, Worker } from '../../src/index.js';
import { createHttpServer, type HttpServer } from '../../src/http/index.js';
import { counter } from '../../entities/counter.js';
import { sayHello } from '../../orchestrations/hello-sequence.js';
import { startNatsServer, type TestServer } from '../helpers/nats-server.js';
import { launchChromium } from './browser.js';

const hub = 'console-test';
const KEY = 'console-test-key';
const MARKUP = '<img src=x onerror=window.__pwned=1>';
/** Screenshots go to .tmp/console; `CONSOLE_SCREENSHOTS=docs/console` refreshes the docs' images. */
const SHOTS = process.env.CONSOLE_SCREENSHOTS ?? '.tmp/console';

let failActivity = true;
const flaky = activity('consoleFlaky', async () => {
  if (failActivity) throw new Error('flaky failed on purpose');
  return 'recovered';
});
const child = orchestration('consoleChild', function* (ctx, n: number) {
  return (yield ctx.callActivity('sayHello', `child ${n}`)) as string;
});
/** Touches every kind of timeline span: activity, timer, sub-orchestration, entity call and signal, event. */
const waiter = orchestration('consoleWaiter', function* (ctx, input: { key: string }) {
  const hello: string = yield ctx.callActivity('sayHello', 'console');
  yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 50));
  const sub: string = yield ctx.callSubOrchestrator('consoleChild', 1);
  ctx.signalEntity(`@counter@${input.key}`, 'add', 1);
  const value: number = yield ctx.callEntity(`@counter@${input.key}`, 'get');
  ctx.setCustomStatus({ waiting: 'go' });
  const go: unknown = yield ctx.waitForExternalEvent('go');
  return { hello, sub, value, go };
});
const failing = orchestration('consoleFailing', function* (ctx) {
  return (yield ctx.callActivity('consoleFlaky')) as string;
});
const markup = orchestration('consoleMarkup', function* () {
  return MARKUP;
});
const note = entity('note', {
  state: () => ({ text: '' }),
  operations: {
    set: {
      input: z.string(),
      handler: (s, t: string) => {
        s.text = t;
      },
    },
  },
});

let server: TestServer;
let worker: Worker;
let client: DurableClient;
let http: HttpServer;
let browser: Browser;
let context: BrowserContext;
let B: string;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startNatsServer();
  worker = await Worker.start({
    servers: server.url,
    hub,
    entities: [counter, note],
    orchestrations: [waiter, child, failing, markup],
    activities: [sayHello, flaky],
    logger: pino({ level: 'warn' }),
    workerId: 'w-console-1',
  });
  client = await DurableClient.connect({ servers: server.url, hub });
  http = await createHttpServer({ servers: server.url, hub, systemKey: KEY, port: 0, logger: pino({ level: 'warn' }) });
  B = `${http.url}/runtime/webhooks/durabletask`;
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await http?.close();
  await client?.close();
  await worker?.stop();
  await server?.stop();
});

const uid = (p: string) => `${p}-${Math.random().toString(36).slice(2, 8)}`;

/** A page signed in through the shared-link form (?code=), which the console keeps and strips. */
async function open(path: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${http.url}${path}${path.includes('?') ? '&' : '?'}code=${encodeURIComponent(KEY)}`);
  return page;
}

async function confirm(page: Page): Promise<void> {
  const dialog = page.getByRole('dialog');
  await expect.poll(() => dialog.isVisible()).toBe(true);
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await dialog.waitFor({ state: 'detached' });
}

/** Text of the instance page's status line. */
const statusOf = async (page: Page) => (await page.locator('dl.facts dd').nth(1).textContent()) ?? '';

describe('serving and security', () => {
  it('serves the bundle at /console/ and index.html for every deep link, with a strict CSP', async () => {
    for (const p of ['/console/', '/console/instances/abc%40x', '/console/entities/counter/k', '/console/schedules', '/console/workers']) {
      const r = await fetch(`${http.url}${p}`);
      expect(r.status, p).toBe(200);
      expect(r.headers.get('content-type')).toContain('text/html');
      expect(r.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(await r.text()).toContain('/console/assets/app.js');
    }
    const js = await fetch(`${http.url}/console/assets/app.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toContain('javascript');
    // Offline: the page references nothing outside this origin.
    const html = await (await fetch(`${http.url}/console/`)).text();
    expect(html).not.toMatch(/https?:\/\//);
  });

  it('requires the key on every data route the console uses; actions are not GETs', async () => {
    for (const p of ['/instances', '/instances/x/history', '/streams/instances', '/catalog', '/workers', '/deadletters', '/entities/counter']) {
      expect((await fetch(`${B}${p}`)).status, p).toBe(401);
    }
    expect((await fetch(`${B}/deadletters/1/redrive`, { method: 'POST' })).status).toBe(401);
    expect((await fetch(`${B}/deadletters/1/redrive?code=${KEY}`)).status).toBe(404);
    expect((await fetch(`${B}/instances/x/terminate?code=${KEY}`)).status).toBe(404);
  });

  it('asks for the key, refuses a wrong one, keeps a right one in the tab, and strips ?code= from the address', async () => {
    const page = await context.newPage();
    await page.goto(`${http.url}/console/workers`);
    await page.getByLabel('System key').fill('wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('the system key was refused').waitFor();
    await page.getByLabel('System key').fill(KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Workers', exact: true }).waitFor();
    await page.reload();
    await page.getByRole('heading', { name: 'Workers', exact: true }).waitFor(); // sessionStorage survives a reload
    await page.close();

    const linked = await open('/console/workers');
    await linked.getByRole('heading', { name: 'Workers', exact: true }).waitFor();
    expect(linked.url()).not.toContain('code=');
    await linked.close();
  });
});

describe('instances', () => {
  it('lists, filters by status, name and id prefix, pages, and updates live', async () => {
    const prefix = uid('list');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await client.startNew('consoleWaiter', { instanceId: `${prefix}-${i}`, input: { key: prefix } }));
    await Promise.all(ids.map((id) => waitForCustomStatus(id)));
    const page = await open(`/console/instances?idPrefix=${prefix}`);
    const table = page.getByRole('table', { name: 'Instances' });
    for (const id of ids) await table.getByRole('link', { name: id, exact: true }).waitFor();
    // header + 3 instances + their 3 sub-orchestrations ('<parent>:<n>')
    await expect.poll(() => table.getByRole('row').count()).toBe(7);

    // Live: the event completes one; its row changes without a reload.
    await client.raiseEvent(ids[0]!, 'go', 1);
    await table
      .getByRole('row', { name: new RegExp(`^${ids[0]!} `) })
      .getByText('Completed')
      .waitFor({ timeout: 15_000 });

    // Status filter through the form (the URL keeps it: shareable).
    await page.getByLabel('Status').selectOption('Running');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => table.getByRole('row').count()).toBe(3);
    expect(page.url()).toContain('status=Running');
    await page.getByLabel('Name prefix').fill('nomatch');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('No instance matches.').waitFor();
    await page.close();

    // Paging: 50 a page, continuation token from the server.
    const many = uid('page');
    await Promise.all(Array.from({ length: 55 }, (_, i) => client.startNew('consoleMarkup', { instanceId: `${many}-${String(i).padStart(2, '0')}` })));
    const paged = await open(`/console/instances?idPrefix=${many}`);
    const t2 = paged.getByRole('table', { name: 'Instances' });
    await expect.poll(() => t2.getByRole('row').count()).toBe(51);
    await paged.getByRole('button', { name: 'Next page' }).click();
    await expect.poll(() => t2.getByRole('row').count()).toBe(6);
    await paged.getByText('Page 2').waitFor();
    await paged.getByRole('button', { name: 'Previous page' }).click();
    await expect.poll(() => t2.getByRole('row').count()).toBe(51);
    await paged.close();
    for (const id of ids.slice(1)) await client.terminate(id);
  });

  it('shows an instance: input, custom status, timeline with durations, sub-orchestration and entity links; raise event with a validating JSON editor', async () => {
    const key = uid('k');
    const id = await client.startNew('consoleWaiter', { instanceId: uid('detail'), input: { key } });
    await waitForCustomStatus(id);
    const page = await open(`/console/instances/${encodeURIComponent(id)}`);
    await page.getByRole('heading', { name: `Instance ${id}` }).waitFor();
    const timeline = page.getByRole('table', { name: 'History timeline' });
    for (const kind of ['Orchestration', 'Activity', 'Timer', 'Sub-orchestration', 'Entity signal', 'Entity call', 'Custom status']) {
      await timeline.getByRole('cell', { name: kind, exact: true }).first().waitFor();
    }
    await timeline
      .getByRole('row', { name: /Activity sayhello/i })
      .getByText(/\d+ ms|\d+\.\d+ s/)
      .waitFor();
    await page.getByLabel('Custom status').getByText('"go"').waitFor();
    await page.getByLabel('Input').getByText(`"${key}"`).waitFor();
    await page.getByRole('link', { name: `@counter@${key}` }).waitFor();
    await page.screenshot({ path: `${SHOTS}/instance.png`, fullPage: true });

    // Raise event: invalid JSON is refused before anything is sent.
    await page.getByLabel('Event name').fill('go');
    await page.getByLabel('Event data (JSON)').fill('{"approved": tru');
    await page.getByText(/Invalid JSON/).waitFor();
    expect(await page.getByRole('button', { name: 'Raise event' }).isDisabled()).toBe(true);
    await page.getByLabel('Event data (JSON)').fill('{"approved": true}');
    await page.getByRole('button', { name: 'Raise event' }).click();
    await confirm(page);
    // Live: the instance's SSE stream turns the page Completed; the output shows the event data.
    await expect.poll(() => statusOf(page), { timeout: 15_000 }).toContain('Completed');
    await page.getByLabel('Output', { exact: true }).getByText('approved').waitFor();
    await timeline.getByRole('cell', { name: 'Event', exact: true }).waitFor();

    // The sub-orchestration link opens the child.
    await page
      .getByRole('link', { name: /^consolechild$/i })
      .first()
      .click();
    await page
      .locator('dl.facts')
      .getByText(/^consolechild$/i)
      .waitFor();
    await page.close();
  });

  it('suspend, resume, terminate, restart and purge, each after a confirmation', async () => {
    const id = await client.startNew('consoleWaiter', { instanceId: uid('act'), input: { key: uid('k') } });
    await waitForCustomStatus(id);
    const page = await open(`/console/instances/${encodeURIComponent(id)}`);
    await page.getByRole('heading', { name: `Instance ${id}` }).waitFor();

    // Cancel sends nothing.
    await page.getByRole('button', { name: 'Suspend' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    expect((await client.getStatus(id))!.runtimeStatus).toBe('Running');

    await page.getByRole('button', { name: 'Suspend' }).click();
    await confirm(page);
    await expect.poll(() => statusOf(page), { timeout: 15_000 }).toContain('Suspended');
    await page.getByRole('button', { name: 'Resume' }).click();
    await confirm(page);
    await expect.poll(() => statusOf(page), { timeout: 15_000 }).toContain('Running');
    await page.getByLabel('Reason (optional)').fill('from the console');
    await page.getByRole('button', { name: 'Terminate' }).click();
    await confirm(page);
    await expect.poll(() => statusOf(page), { timeout: 15_000 }).toContain('Terminated');
    await page.getByRole('cell', { name: 'from the console' }).waitFor();

    await page.getByRole('button', { name: 'Restart' }).click();
    await confirm(page);
    await page.getByText('Restart requested').waitFor();
    await expect.poll(async () => (await client.getStatus(id))?.runtimeStatus, { timeout: 15_000 }).toBe('Running');
    await expect.poll(() => statusOf(page), { timeout: 15_000 }).toContain('Running');

    await client.terminate(id);
    await expect.poll(async () => (await client.getStatus(id))?.runtimeStatus, { timeout: 15_000 }).toBe('Terminated');
    await page.getByRole('button', { name: 'Purge' }).click();
    await confirm(page);
    await page.getByRole('heading', { name: 'Instances', exact: true }).waitFor();
    expect(await client.getStatus(id)).toBeUndefined();
    await page.close();
  });

  it('shows failure details and rewinds a failed instance', async () => {
    failActivity = true;
    const id = await client.startNew('consoleFailing', { instanceId: uid('fail') });
    await expect.poll(async () => (await client.getStatus(id))?.runtimeStatus, { timeout: 15_000 }).toBe('Failed');
    const page = await open(`/console/instances/${encodeURIComponent(id)}`);
    const details = page.getByLabel('Failure details');
    await details.getByText('flaky failed on purpose').first().waitFor();
    await page.getByRole('table', { name: 'History timeline' }).locator('tr.o-failed').first().waitFor();
    failActivity = false;
    await page.getByRole('button', { name: 'Rewind' }).click();
    await confirm(page);
    await expect.poll(() => statusOf(page), { timeout: 15_000 }).toContain('Completed');
    await page.getByLabel('Output', { exact: true }).getByText('"recovered"').waitFor();
    await page.close();
  });
});

describe('entities', () => {
  it('browses by name, opens a key, signals and calls with validation, and shows the state as a tree', async () => {
    const key = uid('ent');
    await client.signalEntity(`@counter@${key}`, 'add', 2);
    await expect.poll(async () => (await client.readEntityState(`@counter@${key}`)).exists, { timeout: 10_000 }).toBe(true);
    const page = await open('/console/entities');
    await page.getByLabel('Entity name').selectOption('counter');
    await page.getByRole('list', { name: 'Keys of counter' }).getByRole('link', { name: key }).click();
    await page.getByRole('heading', { name: `Entity @counter@${key}` }).waitFor();
    const state = page.getByLabel('Current state');
    await state.getByText('value:').waitFor();
    await state.getByText('2', { exact: true }).waitFor();

    // The catalog's schema is shown and checked as you type; nothing can be sent while it fails.
    await page.getByLabel('Operation', { exact: true }).selectOption('add');
    await page.getByText(/"type":"number"/).waitFor();
    await page.getByLabel('Input (JSON)').fill('"five"');
    await page.getByText('Does not match the schema: input must be number, not string').waitFor();
    expect(await page.getByRole('button', { name: 'Signal' }).isDisabled()).toBe(true);
    // What only the entity can refuse comes back from the server, shown as an error.
    await page.getByLabel('Operation', { exact: true }).selectOption('addpositive');
    await page.getByLabel('Input (JSON)').fill('-1');
    await page.getByRole('button', { name: 'Call' }).click();
    await confirm(page);
    await page.getByRole('alert').filter({ hasText: 'negative amount -1' }).waitFor();
    await page.getByLabel('Operation', { exact: true }).selectOption('add');
    await page.getByLabel('Input (JSON)').fill('5');
    await page.getByRole('button', { name: 'Signal' }).click();
    await confirm(page);
    await page.getByText("Signal 'add' sent").waitFor();
    await state.getByText('7', { exact: true }).waitFor({ timeout: 10_000 });

    await page.getByLabel('Operation', { exact: true }).selectOption('get');
    await page.getByLabel('Input (JSON)').fill('');
    await page.getByRole('button', { name: 'Call' }).click();
    await confirm(page);
    await page.getByLabel('Call result').getByText('7', { exact: true }).waitFor();
    await page.screenshot({ path: `${SHOTS}/entity.png`, fullPage: true });

    // Search a key directly.
    await page.goto(`${http.url}/console/entities/counter`);
    await page.getByRole('textbox', { name: 'Key' }).fill(key);
    await page.getByRole('button', { name: 'Open' }).click();
    await page.getByRole('heading', { name: `Entity @counter@${key}` }).waitFor();
    await page.close();
  });

  it('time travel: a slider through versions with their operations, restore, live watch', async (ctx) => {
    const key = uid('tt');
    const id = `@counter@${key}`;
    for (const n of [1, 10, 100]) {
      await client.signalEntity(id, 'add', n);
      await expect.poll(async () => (await client.readEntityState(id)).state, { timeout: 10_000 }).toMatchObject({ value: expect.any(Number) });
    }
    await expect.poll(async () => ((await client.readEntityState(id)).state as { value: number }).value, { timeout: 10_000 }).toBe(111);
    const page = await open(`/console/entities/counter/${encodeURIComponent(key)}`);
    const history = page.getByLabel('History', { exact: true });
    const slider = page.getByRole('slider', { name: 'Version' });
    await slider.waitFor();
    await slider.fill('0');
    await history.getByRole('list', { name: 'Operations in this version' }).getByText('add').first().waitFor();
    await history.getByText('1', { exact: true }).first().waitFor();
    await history.getByRole('button', { name: 'Restore this version' }).click();
    await confirm(page);
    await page.getByText(/Restored version/).waitFor();
    await expect.poll(async () => ((await client.readEntityState(id)).state as { value: number }).value, { timeout: 10_000 }).toBe(1);
    // Live: a change made elsewhere reaches the page through the watch stream.
    await page.getByText('live', { exact: false }).first().waitFor();
    await client.signalEntity(id, 'add', 41);
    await page.getByLabel('Current state').getByText('42', { exact: true }).waitFor({ timeout: 10_000 });
    await page.close();
  });

  it('renders markup in entity state and orchestration output as text: no script runs', async () => {
    const key = uid('xss');
    await client.signalEntity(`@note@${key}`, 'set', MARKUP);
    await expect.poll(async () => (await client.readEntityState(`@note@${key}`)).exists, { timeout: 10_000 }).toBe(true);
    const page = await open(`/console/entities/note/${encodeURIComponent(key)}`);
    await page.getByLabel('Current state').getByText(MARKUP, { exact: false }).waitFor();
    const id = await client.startNew('consoleMarkup', { instanceId: uid('xss') });
    await client.waitForCompletion(id, { timeoutMs: 15_000 });
    await page.goto(`${http.url}/console/instances/${encodeURIComponent(id)}`);
    await page.getByLabel('Output', { exact: true }).getByText(MARKUP, { exact: false }).waitFor();
    expect(await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.locator('main img').count()).toBe(0);
    await page.close();
  });
});

describe('schedules', () => {
  it('lists schedules with next runs; pause, resume, trigger, delete (confirmed)', async (ctx) => {
    const c = client as unknown as { createSchedule(id: string, s: unknown): Promise<void> };
    await c.createSchedule('console-every', { every: 3_600_000, action: { startNew: { name: 'consoleMarkup', input: {} } }, overlap: 'skip' });
    const page = await open('/console/schedules');
    const row = page.getByRole('table', { name: 'Schedules' }).getByRole('row', { name: /console-every/ });
    await row.waitFor();
    await row.getByText('active').waitFor();
    await row.getByRole('button', { name: 'Pause' }).click();
    await confirm(page);
    await row.getByText('paused').waitFor();
    await row.getByRole('button', { name: 'Resume' }).click();
    await confirm(page);
    await row.getByText('active').waitFor();
    await row.getByRole('button', { name: 'Trigger' }).click();
    await confirm(page);
    await page.getByText("Schedule 'console-every' triggered").waitFor();
    await page.screenshot({ path: `${SHOTS}/schedules.png`, fullPage: true });
    await row.getByRole('button', { name: 'Delete' }).click();
    await confirm(page);
    await row.waitFor({ state: 'detached' });
    await page.close();
  });
});

describe('workers', () => {
  it('shows live workers, partitions with lease age and lag, activity queues, dead letters; re-drives one', async () => {
    // A message no actor can take: the worker parks it with a reason.
    await natsOf(client.hub).js.publish(`${hub}.in.0.zz.bogus`, new TextEncoder().encode('{"op":"x"}'));
    await expect
      .poll(async () => ((await (await fetch(`${B}/deadletters?code=${KEY}`)).json()) as { deadLetters: unknown[] }).deadLetters.length, { timeout: 15_000 })
      .toBeGreaterThan(0);
    await expect
      .poll(
        async () => {
          const v = (await (await fetch(`${B}/workers?code=${KEY}`)).json()) as { partitions: Array<{ owner: string; lag: number }> };
          return { owners: [...new Set(v.partitions.map((p) => p.owner))], lag: v.partitions.reduce((n, p) => n + p.lag, 0), count: v.partitions.length };
        },
        { timeout: 15_000 },
      )
      .toEqual({ owners: ['w-console-1'], lag: 0, count: 16 });
    const page = await open('/console/workers');
    const workers = page.getByRole('table', { name: 'Workers' });
    const row = workers.getByRole('row', { name: /w-console-1/ });
    await row.getByText('live').waitFor({ timeout: 15_000 });
    await page.getByRole('table', { name: 'Partitions' }).getByRole('cell', { name: 'w-console-1' }).first().waitFor();
    await page
      .getByRole('table', { name: 'Activity queues' })
      .getByRole('cell', { name: /sayhello/i })
      .waitFor();
    const dead = page.getByRole('table', { name: 'Dead letters' });
    await dead
      .getByText(/unknown actor subject/)
      .first()
      .waitFor();
    await page.screenshot({ path: `${SHOTS}/workers.png`, fullPage: true });
    const before = ((await (await fetch(`${B}/deadletters?code=${KEY}`)).json()) as { deadLetters: Array<{ seq: number }> }).deadLetters;
    const first = before[0]!.seq;
    await dead
      .getByRole('row', { name: new RegExp(`^${first}\\b`) })
      .getByRole('button', { name: 'Re-drive' })
      .click();
    await confirm(page);
    await page.getByText(`Dead letter ${first} re-driven`).waitFor();
    // It left the dead letters (and, being still unroutable, was parked again under a new sequence).
    await expect
      .poll(async () => ((await (await fetch(`${B}/deadletters?code=${KEY}`)).json()) as { deadLetters: Array<{ seq: number }> }).deadLetters.map((d) => d.seq), {
        timeout: 15_000,
      })
      .not.toContain(first);
    await expect
      .poll(async () => ((await (await fetch(`${B}/deadletters?code=${KEY}`)).json()) as { deadLetters: Array<{ seq: number }> }).deadLetters.length, { timeout: 15_000 })
      .toBe(before.length);
    await page.close();
  });

  it("re-drives only to this hub's inbox, start and activity subjects; an unknown sequence is 404", async () => {
    const { headers } = await import('@nats-io/transport-node');
    const h = headers();
    h.set('Dn-Subject', 'elsewhere.orders');
    h.set('Dn-Reason', 'planted by the test');
    const ack = await natsOf(client.hub).js.publish(`${hub}.dlq.start`, new TextEncoder().encode('{}'), { headers: h });
    const r = await fetch(`${B}/deadletters/${ack.seq}/redrive?code=${KEY}`, { method: 'POST' });
    expect(r.status).toBe(400);
    const left = ((await (await fetch(`${B}/deadletters?code=${KEY}`)).json()) as { deadLetters: Array<{ seq: number; reason: string }> }).deadLetters;
    expect(left.find((d) => d.seq === ack.seq)?.reason).toBe('planted by the test'); // kept
    expect((await fetch(`${B}/deadletters/999999/redrive?code=${KEY}`, { method: 'POST' })).status).toBe(404);
  });

  it('screenshot of the instance list', async () => {
    const page = await open('/console/instances');
    await page.getByRole('table', { name: 'Instances' }).getByRole('link').first().waitFor();
    await page.screenshot({ path: `${SHOTS}/instances.png` });
    await page.close();
  });
});

async function waitForCustomStatus(id: string): Promise<void> {
  await expect.poll(async () => (await client.getStatus(id))?.customStatus, { timeout: 20_000 }).toEqual({ waiting: 'go' });
}
