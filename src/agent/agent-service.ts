import * as grpc from '@grpc/grpc-js';
import { Code, MeshError } from '../errors.js';
import { contextFromMetadata, runWithContext, type CallContext } from '../data-plane/call-context.js';
import type { InvokeRequest__Output } from '../generated/agentmesh/v1/InvokeRequest.js';
import type { InvokeResponse } from '../generated/agentmesh/v1/InvokeResponse.js';
import type { SpiffeId } from '../identity/spiffe-id.js';
import type { Logger } from '../observability/logger.js';
import { peerIdentity } from '../transport/credentials.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import { loadMeshProtos } from '../transport/protos.js';
import type { ServiceRegistration } from '../transport/server.js';
import { toServiceError } from '../transport/status.js';

const METHOD_NAME = /^[A-Za-z0-9._/-]{1,128}$/;

/** What a handler of a generic method is told about its call. */
export interface InvocationContext {
  /** The caller's verified SPIFFE ID (from its certificate, never from the request). */
  caller: SpiffeId;
  /** The call's deadline in ms since the epoch; Infinity when the caller set none. */
  deadline: number;
  /** Context propagated by the caller (trace, conversation, tenant, caller chain). */
  context: CallContext;
}

/** A request to a generic method: the payload bytes and their media type. */
export interface InvocationPayload {
  payload: Buffer;
  contentType: string;
}

/** Handles one generic method; throw a MeshError to answer with a status. */
export type MethodHandler = (
  request: InvocationPayload,
  call: InvocationContext,
) => Promise<InvocationPayload>;

/** Options for {@link createAgentService}. */
export interface AgentServiceOptions {
  identity: MeshIdentity;
  /** The generic methods the agent serves, by name. */
  methods: Record<string, MethodHandler>;
  logger: Logger;
  /**
   * Decides whether `caller` may invoke `method` before the handler runs; throws a MeshError (PERMISSION_DENIED)
   * to refuse. The agent runtime enforces the control plane's policies here.
   */
  authorize?: (caller: SpiffeId, method: string) => void;
}

function deadlineOf(call: grpc.ServerUnaryCall<unknown, unknown>): number {
  const deadline = call.getDeadline();
  return deadline instanceof Date ? deadline.getTime() : deadline;
}

/**
 * The `agentmesh.v1.Agent` service of an agent: `Invoke` runs the handler registered for the method, with the
 * caller's verified identity. Streamed invocation and event delivery are answered UNIMPLEMENTED until an agent
 * registers handlers for them.
 */
export function createAgentService(options: AgentServiceOptions): ServiceRegistration {
  const { protos } = loadMeshProtos();
  const methods = new Map(Object.entries(options.methods));
  const known = () => [...methods.keys()].sort().join(', ') || '(none)';
  const unimplemented =
    (what: string) =>
    (call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>) =>
      call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: `this agent does not serve ${what}` });

  const implementation = {
    Invoke: (
      call: grpc.ServerUnaryCall<InvokeRequest__Output, InvokeResponse>,
      callback: grpc.sendUnaryData<InvokeResponse>,
    ) => {
      const run = async (): Promise<InvokeResponse> => {
        const { method, payload, contentType } = call.request;
        if (!METHOD_NAME.test(method)) {
          throw new MeshError(
            Code.INVALID_ARGUMENT,
            `invalid method name "${method.slice(0, 40)}": use 1-128 letters, digits, ".", "_", "-" or "/"`,
          );
        }
        const handler = methods.get(method);
        if (!handler)
          throw new MeshError(
            Code.UNIMPLEMENTED,
            `unknown method "${method}"; this agent serves: ${known()}`,
          );
        const caller = peerIdentity(call, options.identity);
        options.authorize?.(caller, method);
        const deadline = deadlineOf(call);
        const context: CallContext = {
          ...contextFromMetadata((key) => call.metadata.get(key)[0]?.toString()),
          ...(Number.isFinite(deadline) ? { deadline } : {}),
        };
        // Calls the handler makes through a MeshClient inherit the context: trace, conversation, chain, deadline.
        return runWithContext(context, () =>
          handler({ payload, contentType }, { caller, deadline, context }),
        );
      };
      run().then(
        (response) => callback(null, response),
        (error: unknown) => callback(toServiceError(error, options.logger)),
      );
    },
    InvokeStream: unimplemented('streamed invocation'),
    DeliverEvents: unimplemented('event delivery'),
  };
  return { name: 'agentmesh.v1.Agent', definition: protos.agentmesh.v1.Agent.service, implementation };
}
