/**
 * The `durable-nats` command line: builds the commander program and turns every outcome into
 * an exit code (exit-codes.ts). bin/durable-nats.js calls run().
 * Invariant: run() never throws and never calls process.exit itself; it resolves with the code,
 * having written errors to stderr (one line, no stack unless DEBUG is set).
 */
import { Command, CommanderError } from 'commander';
import { registerEntityCommands } from './commands-entities.js';
import { registerEntityHistoryCommands } from './commands-entity-history.js';
import { registerScheduleCommands } from './commands-schedules.js';
import { registerInstanceCommands } from './commands-instances.js';
import { registerRunCommands } from './commands-run.js';
import { addGlobalOptions } from './connect.js';
import { EXIT, EXIT_HELP, exitCodeOf } from './exit-codes.js';

export function buildProgram(): Command {
  const program = new Command('durable-nats')
    .description('Durable entities and orchestrations on NATS JetStream: run workers, serve the HTTP API, manage instances and entities')
    .showHelpAfterError()
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .addHelpText('after', EXIT_HELP);
  addGlobalOptions(program);
  registerRunCommands(program);
  registerInstanceCommands(program);
  registerEntityCommands(program);
  registerEntityHistoryCommands(program);
  registerScheduleCommands(program);
  return program;
}

export async function run(argv: string[] = process.argv): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version are "errors" to commander; usage mistakes were already printed by it.
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version' ? EXIT.ok : EXIT.usage;
    }
    const code = exitCodeOf(e);
    const message = (e as Error)?.message;
    if (message) process.stderr.write(`durable-nats: ${message}\n`);
    if (process.env.DEBUG && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    return code === EXIT.ok ? EXIT.unexpected : code;
  }
}
