import * as grpc from '@grpc/grpc-js';
import type { TargetQuery } from '../data-plane/endpoint-cache.js';
import { contextFromMetadata, runWithContext, type CallContext } from '../data-plane/call-context.js';
import type { MeshClient } from '../data-plane/mesh-client.js';
import { parseLabelSelector } from '../control-plane/label-selector.js';
import { Code, MeshError } from '../errors.js';
import type { InvokeChunk } from '../generated/agentmesh/v1/InvokeChunk.js';
import type { InvokeRequest__Output } from '../generated/agentmesh/v1/InvokeRequest.js';
import type { InvokeResponse } from '../generated/agentmesh/v1/InvokeResponse.js';
import type { Logger } from '../observability/logger.js';
import { loadMeshProtos } from '../transport/protos.js';
import { toServiceError } from '../transport/status.js';
import { pumpToCall } from '../transport/stream-pump.js';
import { SIDECAR_METADATA } from './app-connection.js';

/** An agent type, as the registry accepts it. */
const AGENT_TYPE = /^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/;

/** Options for {@link startOutboundServer}. */
export interface OutboundServerOptions {
  /** Loopback `host:port` to listen on, plaintext (checked by the caller). */
  address: string;
  /** The agent's mesh client: calls leave with the agent's identity. */
  mesh: MeshClient;
  logger: Logger;
}

/** The running outbound port. */
export interface RunningOutboundServer {
  /** `host:port` it listens on (the real port when asked for port 0). */
  address: string;
  /** Stops taking calls, lets those in flight finish for up to `graceMs`, then cancels the rest. */
  shutdown(graceMs: number): Promise<void>;
}

/**
 * The sidecar's outbound port: a plaintext `agentmesh.v1.Agent` server on loopback through which the app calls
 * other agents. Each `Invoke` or `InvokeStream` names its target in metadata (`x-agentmesh-target-type`, and
 * optionally `x-agentmesh-target-selector`) and goes out through the agent's mesh client: balanced, failed over,
 * over mTLS with the agent's identity, with the context the app passed on (traceparent, conversation, tenant,
 * chain) and the app's deadline. Anything that can reach this port acts as the agent: it must stay on loopback.
 * @throws MeshError UNAVAILABLE when the address cannot be bound.
 */
export async function startOutboundServer(options: OutboundServerOptions): Promise<RunningOutboundServer> {
  const { protos } = loadMeshProtos();
  const { mesh, logger } = options;
  const server = new grpc.Server();
  server.addService(protos.agentmesh.v1.Agent.service, {
    Invoke: (
      call: grpc.ServerUnaryCall<InvokeRequest__Output, InvokeResponse>,
      callback: grpc.sendUnaryData<InvokeResponse>,
    ) => {
      const run = async (): Promise<InvokeResponse> => {
        const { target, context, idempotent } = readOutboundCall(call);
        const { method, payload, contentType } = call.request;
        const result = await runWithContext(context, () =>
          mesh.call(target, method, payload, {
            contentType: contentType || 'application/octet-stream',
            idempotent,
            ...remainingTime(context),
          }),
        );
        return { payload: result.payload, contentType: result.contentType };
      };
      run().then(
        (response) => callback(null, response),
        (error: unknown) => callback(toServiceError(error, logger)),
      );
    },
    InvokeStream: (call: grpc.ServerWritableStream<InvokeRequest__Output, InvokeChunk>) => {
      const run = async () => {
        const { target, context, idempotent } = readOutboundCall(call);
        const { method, payload, contentType } = call.request;
        // The stream reads the context when its first chunk is asked for: inside the context, too.
        await runWithContext(context, () =>
          pumpToCall(
            mesh.stream(target, method, payload, {
              contentType: contentType || 'application/octet-stream',
              idempotent,
              ...remainingTime(context),
            }),
            call,
          ),
        );
      };
      run().then(
        () => call.end(),
        (error: unknown) => call.emit('error', toServiceError(error, logger)),
      );
    },
    DeliverEvents: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
      call.emit('error', {
        code: grpc.status.UNIMPLEMENTED,
        details: "the sidecar's outbound port carries Invoke and InvokeStream only",
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(options.address, grpc.ServerCredentials.createInsecure(), (error, bound) => {
      if (error) {
        reject(
          new MeshError(Code.UNAVAILABLE, `cannot listen on ${options.address}: ${error.message}`, {
            cause: error,
          }),
        );
      } else resolve(bound);
    });
  });
  const host = options.address.slice(0, options.address.lastIndexOf(':'));
  return {
    address: `${host}:${port}`,
    shutdown: (graceMs) =>
      new Promise((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}

/**
 * Reads what the app asks of an outbound call: the target from its metadata, the context it passed on (as
 * received from the sidecar on the inbound call it is handling, if any) and its deadline.
 * @throws MeshError INVALID_ARGUMENT for a missing or malformed target type or selector.
 */
function readOutboundCall(
  call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>,
): {
  target: TargetQuery;
  context: CallContext;
  idempotent: boolean;
} {
  const header = (key: string) => call.metadata.get(key)[0]?.toString();
  const type = header(SIDECAR_METADATA.targetType);
  if (!type) {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `no target: set the metadata "${SIDECAR_METADATA.targetType}" to the type of agent to call, e.g. summarizer`,
    );
  }
  if (!AGENT_TYPE.test(type)) {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `invalid "${SIDECAR_METADATA.targetType}" "${type.slice(0, 64)}": an agent type is 1-63 lowercase letters, digits, ".", "_" or "-"`,
    );
  }
  const target: TargetQuery = { type };
  const selector = header(SIDECAR_METADATA.targetSelector);
  if (selector) {
    const parsed = parseLabelSelector(selector);
    if (!parsed.ok) {
      throw new MeshError(
        Code.INVALID_ARGUMENT,
        `invalid "${SIDECAR_METADATA.targetSelector}": ${parsed.error.message}`,
      );
    }
    target.labelSelector = selector;
  }
  const raw = call.getDeadline();
  const deadline = raw instanceof Date ? raw.getTime() : raw;
  const context: CallContext = {
    ...contextFromMetadata(header),
    ...(Number.isFinite(deadline) ? { deadline } : {}),
  };
  return { target, context, idempotent: header(SIDECAR_METADATA.idempotent) === 'true' };
}

/** The app's deadline as the mesh call's timeout (else the mesh client's default applies). */
function remainingTime(context: CallContext): { timeoutMs?: number } {
  return context.deadline === undefined ? {} : { timeoutMs: Math.max(1, context.deadline - Date.now()) };
}
