import * as grpc from '@grpc/grpc-js';
import { MeshError, truncateInput } from '../core/errors.js';
import type { Logger } from '../observability/logger.js';

/**
 * The one place where errors become wire statuses. A MeshError keeps its code and message, which were written for
 * the caller; anything else is a bug on our side: it is logged in full and leaves as UNKNOWN with a generic
 * message, so internals never leak to callers.
 */
/** The trailer of a refusal that says when to try again, in ms. */
export const RETRY_AFTER_KEY = 'retry-after-ms';
/**
 * The trailer every status a mesh server sends carries: a client tells by it a status the server sent from one
 * grpc-js made up when the stream ended without one (its process died mid-answer, the connection was reset).
 */
export const SERVER_STATUS_KEY = 'x-agentmesh-status';

/** Refusals this process made before running a call (its queue, its rate limits); see {@link admissionRefusal}. */
const admissionRefusals = new WeakSet<MeshError>();

/**
 * Marks `error` as this agent's refusal of a call it never ran: only such an error leaves with the retry-after
 * trailer, which tells mesh clients that the call may go to another instance even when it is not idempotent. An
 * error a handler passes on from its own calls (which carries a hint from further down) leaves without it: that
 * call did run here.
 */
export function admissionRefusal(error: MeshError): MeshError {
  admissionRefusals.add(error);
  return error;
}

/**
 * Longest status message sent: the details travel in a header, and a peer refuses headers over its limit (grpc-js:
 * 8 KiB) with RESOURCE_EXHAUSTED instead of the real code. Messages quote input briefly ({@link quote}); this is
 * the backstop for one that does not.
 */
export const MAX_STATUS_DETAILS = 2_048;

/**
 * A handler's error as a wire status: a MeshError keeps its code and message (cut to {@link MAX_STATUS_DETAILS});
 * anything else is a bug on our side, logged in full, and leaves as UNKNOWN with a generic message.
 */
export function toServiceError(error: unknown, logger: Logger): Partial<grpc.StatusObject> {
  if (error instanceof MeshError) {
    const status: Partial<grpc.StatusObject> = {
      code: error.code as number as grpc.status,
      details: truncateInput(error.message, MAX_STATUS_DETAILS),
      metadata: serverStatusMetadata(),
    };
    if (error.retryAfterMs !== undefined && admissionRefusals.has(error)) {
      status.metadata!.set(RETRY_AFTER_KEY, String(error.retryAfterMs));
    }
    return status;
  }
  logger.error({ err: error }, 'unexpected error in a handler');
  return {
    code: grpc.status.UNKNOWN,
    details: 'internal error (logged by the server)',
    metadata: serverStatusMetadata(),
  };
}

function serverStatusMetadata(): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set(SERVER_STATUS_KEY, '1');
  return metadata;
}

/**
 * Whether a failed call's status came from the server (any trailer, such as {@link SERVER_STATUS_KEY}, or the
 * headers of a status-only answer) rather than from grpc-js, which reports a stream that ended without a status
 * (a reset, a process gone mid-answer) with no metadata at all.
 */
export function statusFromServer(error: { metadata?: grpc.Metadata }): boolean {
  return Object.keys(error.metadata?.getMap() ?? {}).length > 0;
}

/** Turns a failed client call into a MeshError with the same code and the server's message. */
export function fromServiceError(error: unknown): MeshError {
  const status = error as Partial<grpc.ServiceError>;
  if (typeof status.code === 'number' && typeof status.details === 'string') {
    const hint = Number(status.metadata?.get(RETRY_AFTER_KEY)[0]);
    // A status grpc-js made up itself (a deadline, no connection) says it in the mesh's words, without grpc-js's
    // timing breakdown and resolver notes; a server's message is passed on as it is.
    const details = statusFromServer(status) ? status.details : withoutGrpcNotes(status.details);
    return new MeshError(status.code as MeshError['code'], details, {
      cause: error,
      ...(Number.isFinite(hint) && hint >= 0 ? { retryAfterMs: hint } : {}),
    });
  }
  return MeshError.from(error);
}

/**
 * grpc-js's own status details without its internals: `Deadline exceeded after 1.002s,name resolution: 0.001s,...`
 * keeps `Deadline exceeded after 1.002s`; `..., Resolution note: ...` loses the note; `No connection established.
 * Last error: Error: connect ECONNREFUSED ...` becomes `no connection could be made (connect ECONNREFUSED ...)`;
 * an OpenSSL error string keeps only its reason.
 */
export function withoutGrpcNotes(details: string): string {
  return (
    details
      .replace(/^(Deadline exceeded after [\d.]+s)[,;].*$/s, '$1')
      .replace(/[\s,.;]*Resolution note:.*$/s, '')
      .replace(
        /^No connection established\. Last error: (?:Error: )?(.*?)\.?$/s,
        'no connection could be made ($1)',
      )
      // OpenSSL's error string (`803C...:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/...`)
      // keeps only its reason; a wrong version number is what a plaintext server's answer looks like.
      .replace(/[0-9A-F]{6,}:error:[0-9A-F]+:SSL routines:[^:]*:([^:]+):[^\s)]*/g, (_, reason: string) =>
        reason === 'wrong version number'
          ? 'TLS: wrong version number: not a TLS server (an HTTP port?)'
          : `TLS: ${reason}`,
      )
      .trim()
  );
}
