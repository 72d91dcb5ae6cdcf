/**
 * Entity history commands: `history` (versions with their operations), `watch` (one line per
 * version until Ctrl-C; `--json` prints JSON lines) and `restore`. `state --version/--at` lives
 * with `state` in commands-entities.ts.
 *
 * Invariant: `watch --json` writes exactly one JSON document per line on stdout, nothing else.
 */
import type { Command } from 'commander';
import type { EntityHistoryEntry, EntityVersion } from '../client/entity-history.js';
import { EntityId } from '../core/entity-id.js';
import { withClient } from './connect.js';
import { brief, intOption, note, print, table } from './io.js';

const versionJson = (v: EntityVersion) => ({ version: v.version, time: v.time.toISOString(), exists: v.exists, ...(v.exists ? { state: v.state ?? null } : {}) });

export function registerEntityHistoryCommands(program: Command): void {
  program
    .command('history <entityId>')
    .description("an entity's versions and the operations applied in each, oldest first")
    .option('--from <version>', 'first version (with --reverse: the newest)')
    .option('--limit <n>', 'versions per page (default 100)')
    .option('--reverse', 'newest first')
    .option('--json', 'machine-readable output')
    .action(async (idText: string, o: { from?: string; limit?: string; reverse?: boolean; json?: boolean }, cmd: Command) =>
      withClient(cmd, async (client) => {
        const from = intOption(o.from, '--from');
        const limit = intOption(o.limit, '--limit');
        const page = await client.entityHistory(EntityId.parse(idText), {
          ...(from !== undefined ? { fromVersion: from } : {}),
          ...(limit !== undefined ? { limit } : {}),
          ...(o.reverse ? { reverse: true } : {}),
        });
        const json = {
          versions: page.versions.map((v: EntityHistoryEntry) => ({ ...versionJson(v), operations: v.operations })),
          ...(page.next !== undefined ? { next: page.next } : {}),
        };
        print(o.json, json, () =>
          table(
            ['VERSION', 'TIME', 'OPERATIONS', 'STATE'],
            page.versions.map((v) => [
              String(v.version),
              v.time.toISOString(),
              brief(
                v.operations
                  .map((op) => (op.input !== undefined ? `${op.op}(${JSON.stringify(op.input)})` : op.inputBytes !== undefined ? `${op.op}(<${op.inputBytes} bytes>)` : op.op))
                  .join(' '),
                60,
              ),
              v.exists ? brief(v.state, 50) : '(deleted)',
            ]),
          ),
        );
        if (!o.json && page.next !== undefined) note(`more: --from ${page.next}`);
      }),
    );

  program
    .command('watch <entityId>')
    .description("print an entity's current state, then every new version, until Ctrl-C")
    .option('--json', 'JSON lines')
    .action(async (idText: string, o: { json?: boolean }, cmd: Command) =>
      withClient(cmd, async (client) => {
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          for await (const v of client.watchEntity(EntityId.parse(idText), { signal: stop.signal })) {
            process.stdout.write(
              o.json ? `${JSON.stringify(versionJson(v))}\n` : `${v.version}  ${v.time.toISOString()}  ${v.exists ? JSON.stringify(v.state ?? null) : '(none)'}\n`,
            );
          }
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      }),
    );

  program
    .command('restore <entityId>')
    .description('write a new version whose state equals an earlier one')
    .requiredOption('--version <n>', 'the version to restore')
    .option('--json', 'machine-readable output')
    .action(async (idText: string, o: { version: string; json?: boolean }, cmd: Command) =>
      withClient(cmd, async (client) => {
        const r = await client.restoreEntity(EntityId.parse(idText), { version: intOption(o.version, '--version')! });
        print(o.json, r, () => `restored version ${o.version} as version ${r.version}`);
      }),
    );
}
