/**
 * Entity commands: signal, call, state, entities. Entity ids are written `@name@key`.
 *
 * Invariants: `signal` returns once the signal is durable; `state` of a never-used entity exits
 * 3 (not found) rather than printing an empty state.
 */
import type { Command } from 'commander';
import { EntityId } from '../core/entity-id.js';
import { DurableError } from '../core/errors.js';
import { withClient } from './connect.js';
import { brief, dateOption, durationOption, intOption, jsonOption, note, print, table } from './io.js';

export function registerEntityCommands(program: Command): void {
  program
    .command('signal <entityId> <op>')
    .description('send a one-way operation to an entity (@name@key)')
    .option('--input <json>', 'operation input (JSON)')
    .action(async (idText: string, op: string, o: { input?: string }, cmd: Command) =>
      withClient(cmd, async (client) => {
        const id = EntityId.parse(idText);
        await client.signalEntity(id, op, jsonOption(o.input, '--input'));
        note(`signalled ${id.toString()} ${op}`);
      }),
    );

  program
    .command('call <entityId> <op>')
    .description('run an entity operation and print its result')
    .option('--input <json>', 'operation input (JSON)')
    .option('--timeout <duration>', 'give up after (default 30s)')
    .option('--json', 'machine-readable output')
    .action(async (idText: string, op: string, o: { input?: string; timeout?: string; json?: boolean }, cmd: Command) =>
      withClient(cmd, async (client) => {
        const result = await client.callEntity(EntityId.parse(idText), op, jsonOption(o.input, '--input'), { timeoutMs: durationOption(o.timeout, '--timeout', 30_000) });
        print(o.json, result ?? null, () => (typeof result === 'string' ? result : JSON.stringify(result ?? null, null, 2)));
      }),
    );

  program
    .command('state <entityId>')
    .description("an entity's committed state (or as of --version / --at)")
    .option('--version <n>', 'the state of that version')
    .option('--at <iso>', 'the state of the last version at or before that time')
    .option('--json', 'machine-readable output')
    .action(async (idText: string, o: { json?: boolean; version?: string; at?: string }, cmd: Command) =>
      withClient(cmd, async (client) => {
        const id = EntityId.parse(idText);
        if (o.version !== undefined || o.at !== undefined) {
          // A past version (see commands-entity-history.ts): printed with its version and time.
          if (o.version !== undefined && o.at !== undefined) throw new DurableError('validation', 'give --version or --at, not both');
          const v = await client.readEntityState(id, o.at !== undefined ? { at: dateOption(o.at, '--at')! } : { version: intOption(o.version, '--version')! });
          const json = { version: v.version, time: v.time.toISOString(), exists: v.exists, ...(v.exists ? { state: v.state ?? null } : {}) };
          print(o.json, json, () => `version ${v.version} at ${json.time}${v.exists ? '' : ' (deleted)'}\n${JSON.stringify(v.state ?? null, null, 2)}`);
          return;
        }
        const s = await client.readEntityState(id);
        if (!s.exists) throw new DurableError('not-found', `entity ${id.toString()} does not exist`);
        print(o.json, s.state ?? null, () => JSON.stringify(s.state ?? null, null, 2));
      }),
    );

  program
    .command('entities')
    .description('list entities that exist, sorted by id')
    .option('--name <name>', 'only entities of this name')
    .option('--state', 'include each state')
    .option('--page-size <n>', 'page size (default 100)')
    .option('--token <token>', 'continuation token of the previous page')
    .option('--json', 'machine-readable output')
    .action(async (o: { name?: string; state?: boolean; pageSize?: string; token?: string; json?: boolean }, cmd: Command) =>
      withClient(cmd, async (client) => {
        const page = await client.listEntities({
          ...(o.name ? { name: o.name } : {}),
          ...(o.token ? { continuationToken: o.token } : {}),
          pageSize: intOption(o.pageSize, '--page-size') ?? 100,
          includeState: o.state === true,
        });
        print(o.json, page, () =>
          table(
            o.state ? ['ENTITY', 'STATE'] : ['ENTITY'],
            page.entities.map((e) => (o.state ? [e.id, brief(e.state, 80)] : [e.id])),
          ),
        );
        if (!o.json && page.continuationToken) note(`more: --token ${page.continuationToken}`);
      }),
    );
}
