import * as grpc from '@grpc/grpc-js';

/** How a unary call ended: its answer, or the status it failed with and whether the server had answered at all. */
export type UnaryOutcome<T> =
  | { ok: true; value: T }
  | {
      ok: false;
      status: grpc.StatusObject;
      /** Response headers arrived before the status: the server took the call. */
      heardFromServer: boolean;
    };

/**
 * One unary call made on `channel` itself, as grpc-js's generated clients make theirs underneath (create the call,
 * start it, send the request, half-close), without their per-call layers: an interceptor chain, an event emitter
 * and a stack trace captured in case the call fails. The mesh's hot paths (a mesh client's attempts, a sidecar's
 * forwarding to its app) make one such call after another and need none of them (see docs/benchmarks.md). An
 * answer that does not decode fails INTERNAL, saying so.
 * @throws what `method.requestSerialize` throws, before anything is sent.
 */
export function unaryCall<Req, Res>(
  channel: grpc.Channel,
  method: grpc.MethodDefinition<Req, Res>,
  request: Req,
  metadata: grpc.Metadata,
  deadline: grpc.Deadline,
): Promise<UnaryOutcome<Res>> {
  const message = method.requestSerialize(request);
  return new Promise((resolve) => {
    let heardFromServer = false;
    let answer: { value: Res } | undefined;
    let unreadable: grpc.StatusObject | undefined;
    const call = channel.createCall(method.path, deadline, undefined, null, undefined);
    call.start(metadata, {
      onReceiveMetadata: () => (heardFromServer = true),
      onReceiveMessage: (bytes: Buffer) => {
        if (answer) return call.cancelWithStatus(grpc.status.UNIMPLEMENTED, 'Too many responses received');
        try {
          answer = { value: method.responseDeserialize(bytes) };
        } catch (error) {
          unreadable = {
            code: grpc.status.INTERNAL,
            details: `the answer cannot be decoded: ${(error as Error).message}`,
            metadata: new grpc.Metadata(),
          };
          call.cancelWithStatus(unreadable.code, unreadable.details);
        }
      },
      onReceiveStatus: (received: grpc.StatusObject) => {
        const status = unreadable ?? received;
        if (status.code === grpc.status.OK && answer) return resolve({ ok: true, value: answer.value });
        resolve({
          ok: false,
          status:
            status.code === grpc.status.OK
              ? { ...status, code: grpc.status.UNIMPLEMENTED, details: 'the server answered no message' }
              : status,
          heardFromServer,
        });
      },
    });
    call.startRead();
    call.sendMessageWithContext({}, message);
    call.halfClose();
  });
}
