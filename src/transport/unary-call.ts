import * as grpc from '@grpc/grpc-js';

/** How a unary call ended: its answer, or the status it failed with and whether the server had answered at all. */
export type UnaryOutcome<T> =
  | { ok: true; value: T }
  | {
      ok: false;
      /** The status, as grpc-js's generated clients give it: an Error with its code, details and metadata. */
      error: grpc.ServiceError;
      /** Response headers arrived before the status: the server took the call. */
      heardFromServer: boolean;
    };

/**
 * One unary call made on `channel` itself, as grpc-js's generated clients make theirs underneath (create the call,
 * start it, send the request, half-close), without their per-call layers: an interceptor chain, an event emitter
 * and a stack trace captured in case the call fails. The mesh's hot paths (a mesh client's attempts, a sidecar's
 * forwarding to its app) make one such call after another and need none of them (see docs/benchmarks.md). A
 * request that does not encode, or an answer that does not decode, fails INTERNAL, saying which.
 * @throws (rejects) what `createCall` throws: the channel was closed.
 */
export function unaryCall<Req, Res>(
  channel: grpc.Channel,
  method: grpc.MethodDefinition<Req, Res>,
  request: Req,
  metadata: grpc.Metadata,
  deadline: grpc.Deadline,
): Promise<UnaryOutcome<Res>> {
  return new Promise((resolve) => {
    let message: Buffer;
    try {
      message = method.requestSerialize(request);
    } catch (error) {
      return resolve(
        unaryFailure(internal(`the request cannot be encoded: ${(error as Error).message}`), false),
      );
    }
    let heardFromServer = false;
    let answer: { value: Res } | undefined;
    let unreadable: grpc.StatusObject | undefined;
    const call = channel.createCall(method.path, deadline, undefined, null, undefined);
    call.start(metadata, {
      onReceiveMetadata: () => (heardFromServer = true),
      onReceiveMessage: (bytes: Buffer) => {
        try {
          answer = { value: method.responseDeserialize(bytes) };
        } catch (error) {
          unreadable = internal(`the answer cannot be decoded: ${(error as Error).message}`);
          call.cancelWithStatus(unreadable.code, unreadable.details);
        }
      },
      onReceiveStatus: (received: grpc.StatusObject) => {
        const status = unreadable ?? received;
        if (status.code === grpc.status.OK && answer) return resolve({ ok: true, value: answer.value });
        const refused =
          status.code === grpc.status.OK
            ? { ...status, code: grpc.status.UNIMPLEMENTED, details: 'the server answered no message' }
            : status;
        resolve(unaryFailure(refused, heardFromServer));
      },
    });
    // One read: a unary call takes one message (grpc-js holds back anything after it, as for its own clients).
    call.startRead();
    call.sendMessageWithContext({}, message);
    call.halfClose();
  });
}

function internal(details: string): grpc.StatusObject {
  return { code: grpc.status.INTERNAL, details, metadata: new grpc.Metadata() };
}

/** A failed outcome, its status an Error as grpc-js's clients make one (made only when a call fails). */
export function unaryFailure(status: grpc.StatusObject, heardFromServer: boolean): UnaryOutcome<never> {
  const message = `${status.code} ${grpc.status[status.code]}: ${status.details}`;
  return { ok: false, error: Object.assign(new Error(message), status), heardFromServer };
}
