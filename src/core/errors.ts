/**
 * Status codes of mesh errors. The numbers are gRPC's, so the transport maps them to the wire one to one, while
 * domain code (registry, balancers, the CA) stays free of `@grpc/grpc-js`.
 */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** One of the {@link Code} values. */
export type Code = (typeof Code)[keyof typeof Code];

const codeNames = new Map<number, string>(Object.entries(Code).map(([name, value]) => [value, name]));

/** The name of a status code, e.g. `PERMISSION_DENIED`. */
export function codeName(code: number): string {
  return codeNames.get(code) ?? `CODE_${code}`;
}

/**
 * Input as an error message repeats it: {@link truncateInput}, in double quotes, with quotes and control characters
 * escaped, so that a huge or hostile value (a 3 MB agent id) can neither blow up a status, whose details must fit
 * the peer's header limit, nor make a message or log line say something else.
 */
export function quote(value: string, max: number = MAX_ECHOED_INPUT): string {
  return JSON.stringify(truncateInput(value, max));
}

/**
 * The one error type of the mesh: a gRPC-aligned `code`, a message a user can act on (what is wrong and how to
 * fix it), and the underlying `cause` when there is one.
 */
export class MeshError extends Error {
  override readonly name = 'MeshError';
  /** For a RESOURCE_EXHAUSTED refusal: when to try again, in ms (the `retry-after-ms` trailer on the wire). */
  readonly retryAfterMs: number | undefined;

  constructor(
    readonly code: Code,
    message: string,
    options?: { cause?: unknown; retryAfterMs?: number },
  ) {
    super(message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }

  /** Returns `error` itself when it is a MeshError, or wraps anything else as UNKNOWN, keeping it as the cause. */
  static from(error: unknown): MeshError {
    if (error instanceof MeshError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new MeshError(Code.UNKNOWN, message, { cause: error });
  }
}

/** An expected outcome that may fail: the value, or the error that says why not. */
export type Result<T, E = MeshError> = { ok: true; value: T } | { ok: false; error: E };

/** A successful {@link Result}. */
export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

/** A failed {@link Result}. */
export function err<E = MeshError>(error: E): { ok: false; error: E } {
  return { ok: false, error };
}

/** A failed {@link Result} carrying a new MeshError. */
export function fail(code: Code, message: string): { ok: false; error: MeshError } {
  return { ok: false, error: new MeshError(code, message) };
}

/** Returns the value of a successful result, or throws its error. */
export function unwrap<T, E>(result: Result<T, E>): T {
  if (!result.ok) throw result.error;
  return result.value;
}

const FS_ERRORS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EISDIR: 'it is a directory, not a file',
  ENOTDIR: 'a parent path is not a directory',
  EEXIST: 'it already exists',
  ENOSPC: 'no space left on the device',
  EROFS: 'the file system is read-only',
};

/** Says in words why a file operation failed. */
export function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return (code && FS_ERRORS[code]) ?? (error as Error).message;
}

/** How much of a peer's or user's input a message or log line quotes: {@link truncateInput}'s default. */
export const MAX_ECHOED_INPUT = 128;

/**
 * The start of `input` for a message or log line that quotes it: at most `max` characters, with an ellipsis when
 * cut, so that a huge topic or id cannot blow up a status, an ack or a log line.
 */
export function truncateInput(input: string, max = MAX_ECHOED_INPUT): string {
  if (input.length <= max) return input;
  // Never cut a surrogate pair in half: the quoted start stays valid text.
  const end = /[\uD800-\uDBFF]/.test(input.charAt(max - 1)) ? max - 1 : max;
  return `${input.slice(0, end)}…`;
}
