/** Errors of the Jepsen harness itself (bad options, a cluster that will not start, a broken worker). */

/** Stable codes of harness errors. */
export const HARNESS_ERROR_CODES = {
  BAD_OPTION: 'a command-line option is missing, unknown or malformed',
  NOT_ROOT: '--netns needs root (network namespaces)',
  BUILD_MISSING: 'the built CLI (dist/src/cli/main.js) is missing and could not be built',
  CLUSTER_START: 'a node did not start or no leader was elected in time',
  PROCESS: 'a process could not be started, signalled or stopped',
  PROTOCOL: 'a worker sent a malformed or out-of-order message',
  NETWORK: 'a proxy or network namespace operation failed',
} as const;

/** A harness error code. */
export type HarnessErrorCode = keyof typeof HARNESS_ERROR_CODES;

/** An error raised by the harness (never by the system under test). */
export class HarnessError extends Error {
  readonly code: HarnessErrorCode;
  constructor(code: HarnessErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = 'HarnessError';
  }
}
