import type * as grpc from '@grpc/grpc-js';
import {
  agentServicePipeline,
  checkMethodName,
  createAgentService,
  type AgentServiceOptions,
} from '../agent/agent-service.js';
import { Code, MeshError } from '../core/errors.js';
import type { ServerCall } from '../core/server-call.js';
import { streamMethod, unaryMethod, type CallTarget } from '../transport/server-pipeline.js';
import type { ServiceRegistration } from '../transport/server.js';
import type { AppConnection } from './app-connection.js';
import { forwardedRequest, scanInvokeRequest, type ScannedRequest } from './invoke-request.js';

const SERVICE = 'agentmesh.v1.Agent';

/**
 * A unary response passed through as its protobuf bytes. Boxed: the pipeline's unary adapter takes the tokens off
 * the answer with an object spread, which would copy a Buffer's every byte into an object. Stream chunks go as bare
 * Buffers (the adapter only reads their `tokens`, which a Buffer has not).
 */
interface Frame {
  bytes: Buffer;
}

/** A forwarded call's target: the method the request names, and what the scan of the request found. */
interface ForwardTarget extends CallTarget {
  scanned: ScannedRequest;
}

/**
 * The sidecar's `agentmesh.v1.Agent` service: `Invoke` and `InvokeStream` pass every call through the agent's
 * pipeline (the server span and metrics, deadline and hop limit, policies, rate limits, admission) with the method
 * read from the request, and forward the request to the app as bytes, never decoded: only its method is read and
 * its `context` replaced by the verified one (see `scanInvokeRequest`). The app's answer (a response, or each chunk)
 * goes back to the caller as the app sent it. `DeliverEvents` is the agent runtime's own.
 *
 * Responsibility for bad input follows from where it is read: a request that is not a protobuf message at its top
 * level, or whose method is missing or malformed, is refused INVALID_ARGUMENT by the route check (after the
 * policies, so that a refused caller learns nothing); a payload or content type the app cannot decode is the app's
 * to answer, and its status reaches the caller as it sent it. Messages over the size limits (4 MiB received, on
 * each side) are refused RESOURCE_EXHAUSTED by grpc-js from their length prefix, before they are read in.
 */
export function forwardingAgentService(
  options: AgentServiceOptions,
  app: AppConnection,
): ServiceRegistration {
  const standard = createAgentService(options);
  const pipeline = options.pipeline ?? agentServicePipeline(options);
  const edge = { identity: options.identity, logger: options.logger, pipeline };
  const request = (bytes: Buffer, call: ServerCall, target: ForwardTarget) =>
    forwardedRequest(bytes, target.scanned as Extract<ScannedRequest, { ok: true }>, call.context);
  return {
    ...standard,
    definition: {
      ...standard.definition,
      Invoke: passThrough(standard.definition.Invoke!, (frame: Frame) => frame.bytes, false),
      InvokeStream: passThrough(standard.definition.InvokeStream!, asIs, true),
    },
    implementation: {
      ...standard.implementation,
      Invoke: unaryMethod<Buffer, Frame, ForwardTarget>(edge, targetOf, async (bytes, call, target) => ({
        bytes: await app.invoke(request(bytes, call, target), call),
      })),
      InvokeStream: streamMethod<Buffer, Buffer, ForwardTarget>(edge, targetOf, (bytes, call, target) =>
        app.invokeStream(request(bytes, call, target), call),
      ),
    },
  };
}

/**
 * Where a forwarded call goes, from the request's bytes: its method (known to nobody but the app, so metrics name
 * it `unknown`), and a route check that refuses a request the scan could not read or a malformed method name.
 */
function targetOf(bytes: Buffer): ForwardTarget {
  const scanned = scanInvokeRequest(bytes);
  return {
    service: SERVICE,
    method: scanned.ok ? scanned.method : '',
    known: false,
    scanned,
    route: () => {
      if (!scanned.ok) {
        throw new MeshError(Code.INVALID_ARGUMENT, `malformed InvokeRequest: ${scanned.error}`);
      }
      checkMethodName(scanned.method);
    },
  };
}

const asIs = (bytes: Buffer): Buffer => bytes;

/** `definition` (the generated one, for its path and names) with the request and the answer passed as bytes. */
function passThrough<Res>(
  definition: grpc.MethodDefinition<object, object>,
  responseSerialize: (response: Res) => Buffer,
  responseStream: boolean,
): grpc.MethodDefinition<Buffer, Res> {
  return {
    ...definition,
    requestStream: false,
    responseStream,
    requestSerialize: asIs,
    requestDeserialize: asIs,
    responseSerialize,
    // Only a client would use it; the sidecar's server never deserializes an answer.
    responseDeserialize: (bytes: Buffer) => bytes as unknown as Res,
  };
}
