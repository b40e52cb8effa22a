/**
 * Every error Shoal raises on purpose is a ShoalError with a stable `code`.
 *
 * Two families matter to the runtime:
 *  - UnrecoverableError: poison input. Retrying cannot help; the input goes to the DLQ.
 *  - RetryableError: a dependency (sink, Redis) failed. Retry with capped backoff, hold the
 *    checkpoint, never drop the data.
 * Device-facing rejection codes are the `RejectCode` enum of the contract (DESIGN §3).
 */

export const RejectCode = {
  MALFORMED: 'MALFORMED',
  SCHEMA_VERSION_UNSUPPORTED: 'SCHEMA_VERSION_UNSUPPORTED',
  FIELD_MISSING: 'FIELD_MISSING',
  FIELD_INVALID: 'FIELD_INVALID',
  EVENT_TIME_OUT_OF_RANGE: 'EVENT_TIME_OUT_OF_RANGE',
  REGION_UNKNOWN: 'REGION_UNKNOWN',
  REGION_MISMATCH: 'REGION_MISMATCH',
  DEVICE_MISMATCH: 'DEVICE_MISMATCH',
  TOO_LARGE: 'TOO_LARGE',
  UNAUTHORIZED: 'UNAUTHORIZED',
  OVERLOADED: 'OVERLOADED',
} as const;
export type RejectCode = (typeof RejectCode)[keyof typeof RejectCode];
export const REJECT_CODES: readonly RejectCode[] = Object.values(RejectCode);

export interface ShoalErrorOptions {
  cause?: unknown;
}

export class ShoalError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options: ShoalErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
  }
}

/** A device's input broke the contract; carries the device-facing code. */
export class ContractError extends ShoalError {
  declare readonly code: RejectCode;
  constructor(code: RejectCode, message: string, options: ShoalErrorOptions = {}) {
    super(code, message, options);
  }
}

/** One or more configuration fields are wrong; `problems` names each one. */
export class ConfigError extends ShoalError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super('CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

/** Poison input: do not retry, move it to the DLQ. */
export class UnrecoverableError extends ShoalError {
  constructor(code: string, message: string, options: ShoalErrorOptions = {}) {
    super(code, message, options);
  }
}

/** A dependency failed in a way that may heal: retry with backoff, hold the checkpoint. */
export class RetryableError extends ShoalError {
  constructor(code: string, message: string, options: ShoalErrorOptions = {}) {
    super(code, message, options);
  }
}

/** A sink (ClickHouse, object store) rejected or failed a write. */
export class SinkError extends RetryableError {
  readonly sink: string;
  constructor(sink: string, message: string, options: ShoalErrorOptions = {}) {
    super('SINK_FAILED', `${sink}: ${message}`, options);
    this.sink = sink;
  }
}

/** This owner lost its partition lease: it must stop and must not commit. */
export class FencedError extends ShoalError {
  constructor(message: string) {
    super('FENCED', message);
  }
}

/**
 * The checkpoint in Redis is not where this owner left it: a commit whose reply was lost did
 * land, or Redis came back from its AOF at an earlier point. The owner must re-acquire the
 * partition (rebuild from the checkpoint) rather than continue from its own memory.
 */
export class CheckpointMovedError extends ShoalError {
  constructor(message: string) {
    super('CHECKPOINT_MOVED', message);
  }
}

/** A service Shoal starts itself (redis-server) is missing or failed to start. */
export class ServiceStartError extends ShoalError {
  constructor(message: string, options: ShoalErrorOptions = {}) {
    super('SERVICE_START_FAILED', message, options);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
