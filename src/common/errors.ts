// Typed errors: every failure a user can cause or meet maps to one documented exit code.
// src/cli/main.ts is the only place that turns these into output and process exit codes.

export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2, // bad flags, bad tenant id, invalid config
  notFound: 3, // unknown tenant
  refused: 4, // confirmation missing or declined
  conflict: 5, // port taken, tenant busy in another process, pool exhausted
  docker: 6, // Docker engine or compose failed
  notReady: 7, // a service did not become healthy before the deadline
  adminDb: 8, // admin database unreachable or failing
  partial: 9, // a batch where some tenants failed; the others stand
  discrepancies: 10, // doctor: the registry and the host disagree, and not all was fixed
  frontdoor: 11, // the front door refused a configuration (nginx -t) or could not apply it; the last good one keeps serving
  certificate: 12, // ACME: a name does not reach this front door (DNS elsewhere, port 80 unreachable) or the CA refused (its error, Retry-After)
  repository: 13, // the backup repository (restic) failed: unreachable, unreadable, damaged (restic's first error line); a wrong password is 2, a missing repository 3, a locked one 5
  hangup: 129, // SIGHUP (a terminal or ssh session gone): rolled back like Ctrl-C
  interrupted: 130, // Ctrl-C: rolled back
  terminated: 143, // SIGTERM: rolled back like Ctrl-C
} as const;

export type ExitCodeName = keyof typeof ExitCode;

export class TenantctlError extends Error {
  readonly kind: ExitCodeName;
  readonly details: string[];
  /** The command's result is already on stdout: the error only sets the exit code (and a line on stderr). */
  reported: boolean;

  constructor(kind: ExitCodeName, message: string, options: { cause?: unknown; details?: string[]; reported?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.name = 'TenantctlError';
    this.kind = kind;
    this.details = options.details ?? [];
    this.reported = options.reported ?? false;
  }

  get exitCode(): number {
    return ExitCode[this.kind];
  }
}

/**
 * A batch finished with some failures: the result (with its summary) is still the output, and the
 * process exits non-zero. `result` is what the CLI prints before exiting.
 */
export class BatchFailure extends TenantctlError {
  // `reported` is set once the CLI has printed `result`, so the error handler does not print a second document.
  constructor(readonly result: unknown, message: string) {
    super('partial', message);
  }
}

export const usageError = (message: string, details?: string[]) => new TenantctlError('usage', message, { details });

/** The message of anything thrown, for one-line reasons. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * `error` with `note` (what else went wrong while handling it) added to its message: the same error
 * (its kind, exit code and cause stay the first failure's), so the note reaches the user with it
 * even under --quiet. Something not an Error becomes an internal one that has it as its cause.
 */
export function withNote(error: unknown, note: string): Error {
  if (error instanceof Error) {
    error.message = `${error.message}; ${note}`;
    return error;
  }
  return new TenantctlError('internal', `${String(error)}; ${note}`, { cause: error });
}
