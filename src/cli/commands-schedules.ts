/**
 * `durable-nats schedule create|list|get|pause|resume|trigger|delete`.
 * Invariant: `create` validates the whole definition (cron, timezone, action) before writing;
 * `get` of an unknown id exits 3 (not found).
 */
import type { Command } from 'commander';
import { DurableError } from '../core/errors.js';
import type { ScheduleAction, ScheduleInfo, ScheduleOptions } from '../schedule/definition.js';
import { withClient } from './connect.js';
import { brief, dateOption, durationOption, jsonOption, note, print, table } from './io.js';

const when = (s: ScheduleInfo) => (s.cron !== undefined ? `cron ${s.cron}${s.timezone ? ` (${s.timezone})` : ''}` : `every ${s.every} ms`);
const what = (a: ScheduleAction) => ('startNew' in a ? `start ${a.startNew.name}` : `signal ${a.signalEntity.id} ${a.signalEntity.op}`);

export function registerScheduleCommands(program: Command): void {
  const schedule = program.command('schedule').description('recurring schedules: start an orchestration or signal an entity on a cron or an interval');

  schedule
    .command('create <id>')
    .description('create a schedule')
    .option('--cron <expr>', "5-field cron expression, e.g. '0 2 * * *'")
    .option('--timezone <tz>', 'IANA timezone of --cron (default UTC)')
    .option('--every <duration>', 'interval, e.g. 30s, 5m')
    .option('--start <orchestration>', 'action: start this orchestration (instance id <id>@<tick ISO>)')
    .option('--signal <entityId>', 'action: signal this entity (@name@key)')
    .option('--op <op>', 'operation of --signal')
    .option('--input <json>', 'input of the orchestration or operation (JSON)')
    .option('--overlap <skip|allow>', "with --start: skip a tick while the last run is not terminal (default 'skip')")
    .option('--start-at <iso>', 'no tick before')
    .option('--end-at <iso>', 'no tick after')
    .option('--paused', 'create paused')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: Record<string, string | boolean | undefined>, cmd: Command) =>
      withClient(cmd, async (client) => {
        const input = jsonOption(o.input as string | undefined, '--input');
        let action: ScheduleAction;
        if (o.start && !o.signal) action = { startNew: { name: o.start as string, ...(input === undefined ? {} : { input }) } };
        else if (o.signal && !o.start) {
          if (!o.op) throw new DurableError('validation', '--signal needs --op');
          action = { signalEntity: { id: o.signal as string, op: o.op as string, ...(input === undefined ? {} : { input }) } };
        } else throw new DurableError('validation', 'give exactly one action: --start <orchestration> or --signal <entityId> --op <op>');
        if (o.overlap !== undefined && o.overlap !== 'skip' && o.overlap !== 'allow') throw new DurableError('validation', "--overlap is 'skip' or 'allow'");
        const startAt = dateOption(o.startAt as string | undefined, '--start-at');
        const endAt = dateOption(o.endAt as string | undefined, '--end-at');
        const options: ScheduleOptions = {
          action,
          ...(o.cron !== undefined ? { cron: o.cron as string } : {}),
          ...(o.timezone !== undefined ? { timezone: o.timezone as string } : {}),
          ...(o.every !== undefined ? { every: durationOption(o.every as string, '--every', 0) } : {}),
          ...(o.overlap !== undefined ? { overlap: o.overlap as 'skip' | 'allow' } : {}),
          ...(startAt ? { startAt } : {}),
          ...(endAt ? { endAt } : {}),
          ...(o.paused ? { paused: true } : {}),
        };
        await client.createSchedule(id, options);
        const s = await client.getSchedule(id);
        print(o.json as boolean | undefined, s ?? { id }, () => `created schedule ${id}; next runs: ${(s?.nextRuns ?? []).map((d) => d.toISOString()).join(', ') || '(none)'}`);
      }),
    );

  schedule
    .command('list')
    .description('list schedules')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }, cmd: Command) =>
      withClient(cmd, async (client) => {
        const { schedules } = await client.listSchedules();
        print(o.json, { schedules }, () =>
          table(
            ['ID', 'WHEN', 'ACTION', 'STATE', 'NEXT', 'LAST'],
            schedules.map((s) => [
              s.id,
              when(s),
              brief(what(s.action), 40),
              s.paused ? 'paused' : 'active',
              s.nextRuns[0]?.toISOString() ?? '',
              s.lastRun?.time.toISOString() ?? '',
            ]),
          ),
        );
      }),
    );

  schedule
    .command('get <id>')
    .description('a schedule with its next and last runs')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: { json?: boolean }, cmd: Command) =>
      withClient(cmd, async (client) => {
        const s = await client.getSchedule(id);
        if (!s) throw new DurableError('not-found', `no schedule '${id}'`);
        print(o.json, s, () =>
          [
            `${s.id}: ${when(s)}, ${what(s.action)}${s.paused ? ' (paused)' : ''}`,
            `next: ${s.nextRuns.map((d) => d.toISOString()).join(', ') || '(none)'}`,
            `last: ${s.lastRun ? `${s.lastRun.time.toISOString()}${s.lastRun.instanceId ? ` ${s.lastRun.instanceId}` : ''}` : '(never)'}`,
          ].join('\n'),
        );
      }),
    );

  for (const [name, description] of [
    ['pause', 'stop ticking (missed ticks are not run on resume)'],
    ['resume', 'tick again from now'],
    ['delete', 'delete a schedule'],
  ] as const) {
    schedule
      .command(`${name} <id>`)
      .description(description)
      .action(async (id: string, _o: unknown, cmd: Command) =>
        withClient(cmd, async (client) => {
          if (name === 'pause') await client.pauseSchedule(id);
          else if (name === 'resume') await client.resumeSchedule(id);
          else await client.deleteSchedule(id);
          note(`${name === 'delete' ? 'deleted' : `${name}d`} schedule ${id}`);
        }),
      );
  }

  schedule
    .command('trigger <id>')
    .description('run the action once now')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: { json?: boolean }, cmd: Command) =>
      withClient(cmd, async (client) => {
        const r = await client.triggerSchedule(id);
        print(o.json, r, () => (r.instanceId ? `started ${r.instanceId}` : `triggered ${id}`));
      }),
    );
}
