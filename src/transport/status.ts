import * as grpc from '@grpc/grpc-js';
import { MeshError } from '../errors.js';
import type { Logger } from '../observability/logger.js';

/**
 * The one place where errors become wire statuses. A MeshError keeps its code and message, which were written for
 * the caller; anything else is a bug on our side: it is logged in full and leaves as UNKNOWN with a generic
 * message, so internals never leak to callers.
 */
export function toServiceError(error: unknown, logger: Logger): Partial<grpc.StatusObject> {
  if (error instanceof MeshError)
    return { code: error.code as number as grpc.status, details: error.message };
  logger.error({ err: error }, 'unexpected error in a handler');
  return { code: grpc.status.UNKNOWN, details: 'internal error (logged by the server)' };
}

/** Turns a failed client call into a MeshError with the same code and the server's message. */
export function fromServiceError(error: unknown): MeshError {
  const status = error as Partial<grpc.ServiceError>;
  if (typeof status.code === 'number' && typeof status.details === 'string') {
    return new MeshError(status.code as MeshError['code'], status.details, { cause: error });
  }
  return MeshError.from(error);
}
