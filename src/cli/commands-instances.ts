/**
 * Orchestration instance commands: start, status, wait, raise, terminate, suspend, resume,
 * restart, rewind, purge, list.
 *
 * Invariants: `start --wait` and `wait` exit 7 when the instance ends Failed or Terminated and 4
 * when it does not end in time (after printing its last status); a missing instance exits 3.
 */
import type { Command } from 'commander';
import type { DurableClient } from '../client/client.js';
import type { OrchestrationStatus } from '../client/status.js';
import { DurableError } from '../core/errors.js';
import { withClient } from './connect.js';
import { CliExit, EXIT } from './exit-codes.js';
import { brief, dateOption, durationOption, intOption, jsonOption, note, print, statusListOption, table } from './io.js';

const DEFAULT_WAIT_MS = 60_000;

function describe(s: OrchestrationStatus): string {
  const rows: Array<[string, string]> = [
    ['instance', s.instanceId],
    ['name', s.name],
    ['status', s.runtimeStatus],
    ['created', s.createdTime],
    ['updated', s.lastUpdatedTime],
  ];
  if (s.input !== undefined) rows.push(['input', brief(s.input, 200)]);
  if (s.customStatus !== undefined) rows.push(['custom', brief(s.customStatus, 200)]);
  if (s.output !== undefined) rows.push(['output', brief(s.output, 200)]);
  if (s.failureDetails) rows.push(['failure', `${s.failureDetails.errorType}: ${s.failureDetails.message}`]);
  const text = rows.map(([k, v]) => `${k.padEnd(9)}${v}`).join('\n');
  return s.history ? `${text}\nhistory\n${s.history.map((e) => `  ${brief(e, 160)}`).join('\n')}` : text;
}

async function requireStatus(client: DurableClient, id: string, showHistory = false): Promise<OrchestrationStatus> {
  const s = await client.getStatus(id, { showHistory });
  if (!s) throw new DurableError('not-found', `no instance '${id}'`);
  return s;
}

/**
 * Waits for the terminal status, drawing a progress line on stderr from the status watch.
 * Prints the final (or, on timeout, the last) status, then maps it to the exit code.
 */
async function waitAndReport(client: DurableClient, id: string, timeoutMs: number, json: boolean | undefined): Promise<void> {
  const progress = new AbortController();
  const tty = process.stderr.isTTY;
  let lastLine = '';
  void client
    .watchStatus(
      id,
      (s) => {
        const line = `${id}: ${s.runtimeStatus}${s.customStatus !== undefined ? ` ${brief(s.customStatus, 60)}` : ''}`;
        if (line === lastLine) return;
        lastLine = line;
        process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
      },
      progress.signal,
    )
    .catch(() => undefined);
  let final: OrchestrationStatus;
  try {
    final = await client.waitForCompletion(id, { timeoutMs });
  } catch (e) {
    if (!DurableError.is(e, 'timeout')) throw e;
    const s = await requireStatus(client, id);
    print(json, s, () => describe(s));
    throw new CliExit(EXIT.timeout, `${id} did not finish within ${timeoutMs} ms (it is ${s.runtimeStatus})`);
  } finally {
    progress.abort();
    if (tty && lastLine) process.stderr.write('\n');
  }
  print(json, final, () => describe(final));
  if (final.runtimeStatus !== 'Completed') throw new CliExit(EXIT.failed, `${id} ended ${final.runtimeStatus}`);
}

export function registerInstanceCommands(program: Command): void {
  program
    .command('start <name>')
    .description('start an orchestration; prints its instance id')
    .option('--input <json>', 'input (JSON)')
    .option('--id <instanceId>', 'instance id (default: a new one)')
    .option('--wait [timeout]', 'wait until it finishes (default 60s; 30s, 2m, or seconds)')
    .option('--json', 'machine-readable output')
    .action(async (name: string, o: { input?: string; id?: string; wait?: string | boolean; json?: boolean }, cmd: Command) =>
      withClient(cmd, async (client) => {
        const input = jsonOption(o.input, '--input');
        const id = await client.startNew(name, { ...(input === undefined ? {} : { input }), ...(o.id ? { instanceId: o.id } : {}) });
        if (o.wait === undefined || o.wait === false) return print(o.json, { id }, () => id);
        const timeoutMs = durationOption(o.wait === true ? undefined : o.wait, '--wait', DEFAULT_WAIT_MS);
        if (!o.json) note(`started ${id}`);
        await waitAndReport(client, id, timeoutMs, o.json);
      }),
    );

  program
    .command('status <instanceId>')
    .description("an instance's status")
    .option('--history', 'include the history events')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: { history?: boolean; json?: boolean }, cmd: Command) =>
      withClient(cmd, async (client) => {
        const s = await requireStatus(client, id, o.history);
        print(o.json, s, () => describe(s));
      }),
    );

  program
    .command('wait <instanceId>')
    .description('wait until an instance finishes (progress on stderr)')
    .option('--timeout <duration>', 'give up after (default 60s; 30s, 2m, or seconds)')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: { timeout?: string; json?: boolean }, cmd: Command) =>
      withClient(cmd, async (client) => {
        await requireStatus(client, id);
        await waitAndReport(client, id, durationOption(o.timeout, '--timeout', DEFAULT_WAIT_MS), o.json);
      }),
    );

  program
    .command('raise <instanceId> <event>')
    .description('raise an external event')
    .option('--data <json>', 'event data (JSON)')
    .action(async (id: string, event: string, o: { data?: string }, cmd: Command) =>
      withClient(cmd, async (client) => {
        await client.raiseEvent(id, event, jsonOption(o.data, '--data'));
        note(`raised ${event} on ${id}`);
      }),
    );

  const commands = {
    terminate: (c: DurableClient, id: string, r?: string) => c.terminate(id, r),
    suspend: (c: DurableClient, id: string, r?: string) => c.suspend(id, r),
    resume: (c: DurableClient, id: string, r?: string) => c.resume(id, r),
    rewind: (c: DurableClient, id: string, r?: string) => c.rewind(id, r),
  };
  for (const [name, run] of Object.entries(commands)) {
    program
      .command(`${name} <instanceId>`)
      .description(`${name} an instance`)
      .option('--reason <text>', 'recorded with the command')
      .action(async (id: string, o: { reason?: string }, cmd: Command) =>
        withClient(cmd, async (client) => {
          await run(client, id, o.reason);
          note(`${name}: sent to ${id}`);
        }),
      );
  }

  program
    .command('restart <instanceId>')
    .description('start a finished instance again (same id, same input)')
    .action(async (id: string, _o: unknown, cmd: Command) =>
      withClient(cmd, async (client) => {
        process.stdout.write(`${await client.restart(id)}\n`);
      }),
    );

  program
    .command('purge [instanceId]')
    .description("delete a finished instance's history, or every finished one matching filters")
    .option('--status <list>', 'with no id: runtime statuses, comma-separated (e.g. Completed,Failed)')
    .option('--created-from <date>', 'with no id: created at or after (ISO 8601)')
    .option('--created-to <date>', 'with no id: created at or before (ISO 8601)')
    .option('--json', 'machine-readable output')
    .action(async (id: string | undefined, o: { status?: string; createdFrom?: string; createdTo?: string; json?: boolean }, cmd: Command) =>
      withClient(cmd, async (client) => {
        let deleted: number;
        if (id !== undefined) {
          deleted = (await client.purge(id)).deleted;
        } else {
          const runtimeStatus = statusListOption(o.status);
          const createdFrom = dateOption(o.createdFrom, '--created-from');
          const createdTo = dateOption(o.createdTo, '--created-to');
          deleted = (await client.purgeInstances({ ...(runtimeStatus ? { runtimeStatus } : {}), ...(createdFrom ? { createdFrom } : {}), ...(createdTo ? { createdTo } : {}) }))
            .deleted;
        }
        print(o.json, { instancesDeleted: deleted }, () => `deleted ${deleted}`);
        if (id !== undefined && deleted === 0) throw new CliExit(EXIT.notFound);
      }),
    );

  program
    .command('list')
    .description('list instances, least recently changed first, a page at a time')
    .option('--status <list>', 'runtime statuses, comma-separated')
    .option('--prefix <prefix>', 'instance id prefix')
    .option('--name <prefix>', 'orchestration name prefix')
    .option('--page-size <n>', 'page size (default 100)')
    .option('--token <token>', 'continuation token of the previous page')
    .option('--json', 'machine-readable output')
    .action(async (o: { status?: string; prefix?: string; name?: string; pageSize?: string; token?: string; json?: boolean }, cmd: Command) =>
      withClient(cmd, async (client) => {
        const runtimeStatus = statusListOption(o.status);
        const page = await client.listInstances({
          ...(runtimeStatus ? { runtimeStatus } : {}),
          ...(o.name ? { namePrefix: o.name } : {}),
          ...(o.token ? { continuationToken: o.token } : {}),
          // Filtered by the client before paging: filtering a page afterwards would print short
          // (even empty) pages while matching instances wait on later ones.
          ...(o.prefix ? { instanceIdPrefix: o.prefix } : {}),
          pageSize: intOption(o.pageSize, '--page-size') ?? 100,
        });
        const instances = page.instances;
        print(o.json, { instances, ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}) }, () =>
          table(
            ['INSTANCE', 'NAME', 'STATUS', 'CREATED', 'OUTPUT'],
            instances.map((s) => [s.instanceId, s.name, s.runtimeStatus, s.createdTime, brief(s.output, 40)]),
          ),
        );
        if (!o.json && page.continuationToken) note(`more: --token ${page.continuationToken}`);
      }),
    );
}
