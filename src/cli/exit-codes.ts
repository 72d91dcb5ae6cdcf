/**
 * Exit codes of the `durable-nats` CLI, the contract scripts rely on (documented in the help
 * epilogue and docs/http.md). Invariant: every failure maps to exactly one code, derived from
 * the DurableError code where there is one; nothing else picks a number.
 */
import { DurableError } from '../core/errors.js';

export const EXIT = {
  ok: 0,
  unexpected: 1,
  usage: 2,
  notFound: 3,
  timeout: 4,
  connection: 5,
  conflict: 6,
  /** The instance finished, but Failed or Terminated (`start --wait`, `wait`). */
  failed: 7,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An intended non-zero exit: the message (if any) goes to stderr, the code to the shell. */
export class CliExit extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message = '',
  ) {
    super(message);
  }
}

export function exitCodeOf(e: unknown): ExitCode {
  if (e instanceof CliExit) return e.exitCode;
  if (e instanceof DurableError) {
    switch (e.code) {
      case 'validation':
        return EXIT.usage;
      case 'not-found':
        return e.details?.gone === true ? EXIT.conflict : EXIT.notFound;
      case 'timeout':
        return EXIT.timeout;
      case 'connection':
        return EXIT.connection;
      case 'instance-exists':
        return EXIT.conflict;
      default:
        return EXIT.unexpected;
    }
  }
  return EXIT.unexpected;
}

export const EXIT_HELP = `
Exit codes:
  0  ok
  1  unexpected error
  2  usage or validation error (bad arguments, unknown name, input failing its schema)
  3  not found (instance, entity)
  4  timeout
  5  cannot reach NATS
  6  conflict: instance exists and is not finished, or is already finished (raise, terminate...)
  7  the instance finished but Failed or Terminated (start --wait, wait)
`;
