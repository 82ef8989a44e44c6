/**
 * Exit codes of the operations CLI and the errors that carry them. Scripts
 * may branch on the code alone; the message goes to standard error and never
 * holds a secret or a token.
 */

/** What the process exit code means; documented in `--help` and the README. */
export const EXIT_CODES = {
  ok: 0,
  /** The operation ran and failed: a token refused, an AWS error, a failed sync run. */
  failed: 1,
  /** The command line is wrong: unknown command or option, missing or invalid value. */
  usage: 2,
  /** The named profile, secret, table or function does not exist. */
  notFound: 3,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** A failure the CLI reports with a fixed exit code and a stable `code`. */
export class OpsError extends Error {
  override readonly name: string = 'OpsError';

  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: ExitCode,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

/** Exit code 2: the command line cannot be run as given. */
export class UsageError extends OpsError {
  override readonly name: string = 'UsageError';

  constructor(message: string, options: { cause?: unknown } = {}) {
    super('usage', message, EXIT_CODES.usage, options);
  }
}

/** Exit code 3: what the command names does not exist. */
export class NotFoundError extends OpsError {
  override readonly name: string = 'NotFoundError';

  constructor(message: string, options: { cause?: unknown } = {}) {
    super('not_found', message, EXIT_CODES.notFound, options);
  }
}

/** Exit code 1: the operation itself failed. */
export class OperationError extends OpsError {
  override readonly name: string = 'OperationError';

  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(code, message, EXIT_CODES.failed, options);
  }
}

/**
 * An AWS SDK failure as the CLI reports it: a missing resource is exit code
 * 3, anything else exit code 1, each naming `what` was being done. SDK error
 * messages name resources, never secret values.
 */
export function fromAwsError(error: unknown, what: string): OpsError {
  if (error instanceof OpsError) return error;
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  if (name === 'ResourceNotFoundException') {
    return new NotFoundError(`${what}: not found (${message})`, { cause: error });
  }
  return new OperationError('aws_error', `${what}: ${name}: ${message}`, { cause: error });
}
