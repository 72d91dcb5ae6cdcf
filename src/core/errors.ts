/**
 * The one error type of durable-nats. Every failure a caller can see carries a stable `code`
 * so that programs branch on codes, never on messages.
 */

/** Stable error codes (API.md). Never rename one: callers and the HTTP layer branch on them. */
export const ERROR_CODES = ['validation', 'not-found', 'instance-exists', 'timeout', 'nondeterminism', 'operation-failed', 'fenced', 'connection'] as const;

export type DurableErrorCode = (typeof ERROR_CODES)[number];

export interface DurableErrorOptions {
  cause?: unknown;
  /** Extra structured facts (e.g. the expected and actual step of a nondeterminism error). */
  details?: Record<string, unknown>;
}

/**
 * @example
 * try { await client.callEntity(id, 'add', 'x') }
 * catch (e) { if (e instanceof DurableError && e.code === 'validation') ... }
 */
export class DurableError extends Error {
  override readonly name = 'DurableError';
  readonly code: DurableErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: DurableErrorCode, message: string, options: DurableErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.details) this.details = options.details;
  }

  static is(e: unknown, code?: DurableErrorCode): e is DurableError {
    return e instanceof DurableError && (code === undefined || e.code === code);
  }
}

/** Serializable form of an error, as it travels in events and replies. */
export interface ErrorInfo {
  message: string;
  errorType: string;
  code?: DurableErrorCode;
  stack?: string;
}

export function toErrorInfo(e: unknown): ErrorInfo {
  if (e instanceof DurableError) return { message: e.message, errorType: e.name, code: e.code, ...(e.stack ? { stack: e.stack } : {}) };
  if (e instanceof Error) return { message: e.message, errorType: e.name || 'Error', ...(e.stack ? { stack: e.stack } : {}) };
  return { message: typeof e === 'string' ? e : (JSON.stringify(e) ?? String(e)), errorType: 'Error' };
}

/** Rebuild a throwable from ErrorInfo; user errors become `operation-failed` unless they carried a code. */
export function fromErrorInfo(info: ErrorInfo): DurableError {
  const err = new DurableError(info.code ?? 'operation-failed', info.message, { details: { errorType: info.errorType } });
  if (info.stack) err.stack = info.stack;
  return err;
}
