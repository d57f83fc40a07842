import * as grpc from '@grpc/grpc-js';
import { validateAgentType } from '../core/agent-types.js';
import { isPriorityClass, PRIORITY_CLASSES } from '../core/priority.js';
import type { TargetQuery } from '../data-plane/endpoint-cache.js';
import { runWithContext, type CallContext } from '../core/call-context.js';
import type { MeshCallOptions, MeshClient } from '../data-plane/mesh-client.js';
import { parseLabelSelector } from '../core/label-selector.js';
import { Code, MeshError, quote } from '../core/errors.js';
import type { InvokeChunk } from '../generated/agentmesh/v1/InvokeChunk.js';
import type { InvokeRequest__Output } from '../generated/agentmesh/v1/InvokeRequest.js';
import type { InvokeResponse } from '../generated/agentmesh/v1/InvokeResponse.js';
import type { Logger } from '../observability/logger.js';
import type { PublishRequest__Output } from '../generated/agentmesh/v1/PublishRequest.js';
import type { PublishResponse } from '../generated/agentmesh/v1/PublishResponse.js';
import type { PublishOptions } from '../pubsub/publisher.js';
import type { PublishReport } from '../pubsub/event.js';
import { MESH_SERVER_OPTIONS } from '../transport/credentials.js';
import { loadEventProtos, loadMeshProtos } from '../transport/protos.js';
import { toServiceError } from '../transport/status.js';
import { bindServer, createServerShutdown } from '../transport/server-lifecycle.js';
import { pumpToCall } from '../transport/stream-pump.js';
import { SIDECAR_METADATA } from './app-connection.js';
import type { ForwardedCalls } from './forwarded-calls.js';
import type { LocalAddress } from './local-address.js';
import { removeOwnSocket, removeStaleSocket, restrictSocket } from './private-socket.js';

/** The `x-agentmesh-*` keys an app may send on the outbound port; the mesh owns every other one. */
const APP_KEYS = new Set<string>([
  SIDECAR_METADATA.targetType,
  SIDECAR_METADATA.targetSelector,
  SIDECAR_METADATA.idempotent,
  SIDECAR_METADATA.callToken,
  SIDECAR_METADATA.priority,
]);

/** Options for {@link startOutboundServer}. */
export interface OutboundServerOptions {
  /**
   * Where to listen, plaintext: a Unix socket in a directory only the app's user can enter (see
   * `preparePrivateDir`), or a loopback port (checked by the caller), which any local process can reach.
   */
  address: LocalAddress;
  /** The agent's mesh client: calls leave with the agent's identity. */
  mesh: MeshClient;
  /** The inbound calls the sidecar is forwarding to the app, whose tokens the app's outbound calls may bring back. */
  calls: ForwardedCalls;
  /** Publishes an event as the agent (its `publish`); `agentmesh.v1.Events.Publish` calls it. */
  publish(
    topic: string,
    payload: Buffer,
    options: PublishOptions,
  ): Promise<PublishReport & { sequence?: number; duplicate?: boolean }>;
  logger: Logger;
}

/** The running outbound port. */
export interface RunningOutboundServer {
  /** `unix:/path` or `host:port` it listens on (the real port when asked for port 0). */
  address: string;
  /**
   * Stops taking calls, lets those in flight finish for up to `graceMs`, then cancels the rest; removes its
   * socket file.
   */
  shutdown(graceMs: number): Promise<void>;
}

/**
 * The sidecar's outbound port: a plaintext `agentmesh.v1.Agent` server through which the app calls other agents,
 * on a Unix socket (mode 0600; a stale socket file nobody listens on is replaced, a live one refused) or a loopback
 * port. Each `Invoke` or `InvokeStream` names its target in metadata (`x-agentmesh-target-type`, and optionally
 * `x-agentmesh-target-selector`) and goes out through the agent's mesh client: balanced, failed over, over mTLS
 * with the agent's identity, within the app's deadline. What travels with it is the mesh's own: with the
 * `x-agentmesh-call-token` of an inbound call in flight, that call's context as the sidecar read it (trace,
 * conversation, tenant, priority, chain, deadline); without one, a new chain that starts at this agent. Caller,
 * chain, deadline or trace headers the app sends are ignored (a first one is logged); only a priority class may be
 * asked for. `agentmesh.v1.Events.Publish` publishes an event as the agent, continuing the call or event of its
 * token the same way. Anything that can open this port acts as the agent.
 * @throws MeshError UNAVAILABLE when the address cannot be bound, FAILED_PRECONDITION when another process listens
 * on the socket.
 */
export async function startOutboundServer(options: OutboundServerOptions): Promise<RunningOutboundServer> {
  const { protos } = loadMeshProtos();
  const { mesh, logger, calls } = options;
  let warned = false;
  const warnIgnored = (ignored: string[]) => {
    if (ignored.length > 0 && !warned) {
      warned = true; // once: an app that copies the headers on every call would flood the log
      logger.warn(
        { ignored },
        `the app sent mesh-owned metadata on an outbound call; it is ignored (the callee learns the caller from ` +
          `this agent's certificate): to continue the call being handled, send its ${SIDECAR_METADATA.callToken}`,
      );
    }
  };
  const read = (call: AppCall) => {
    const outbound = readOutboundCall(call, calls);
    warnIgnored(outbound.ignored);
    return outbound;
  };
  const server = new grpc.Server(MESH_SERVER_OPTIONS);
  server.addService(protos.agentmesh.v1.Agent.service, {
    Invoke: (
      call: grpc.ServerUnaryCall<InvokeRequest__Output, InvokeResponse>,
      callback: grpc.sendUnaryData<InvokeResponse>,
    ) => {
      const run = async (): Promise<InvokeResponse> => {
        const { target, parent, options: callOptions } = read(call);
        const { method, payload, contentType } = call.request;
        const result = await runWithContext(parent, () =>
          mesh.call(target, method, payload, {
            contentType: contentType || 'application/octet-stream',
            ...callOptions,
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
        const { target, parent, options: callOptions } = read(call);
        const { method, payload, contentType } = call.request;
        // The stream reads the context when its first chunk is asked for: inside the context, too.
        await runWithContext(parent, () =>
          pumpToCall(
            mesh.stream(target, method, payload, {
              contentType: contentType || 'application/octet-stream',
              ...callOptions,
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
  server.addService(loadEventProtos().protos.agentmesh.v1.Events.service, {
    Publish: (
      call: grpc.ServerUnaryCall<PublishRequest__Output, PublishResponse>,
      callback: grpc.sendUnaryData<PublishResponse>,
    ) => {
      let published: Promise<PublishReport & { sequence?: number; duplicate?: boolean }>;
      try {
        const { parent, ignored } = readContinuation(call, calls);
        warnIgnored(ignored);
        const { topic, payload, contentType, key, eventId } = call.request;
        // The publisher takes the event's context (trace, conversation, chain) from the call it continues.
        published = runWithContext(parent, () =>
          options.publish(topic, payload, {
            contentType: contentType || 'application/octet-stream',
            ...(key ? { key } : {}),
            ...(eventId ? { eventId } : {}),
          }),
        );
      } catch (error) {
        callback(toServiceError(error, logger));
        return;
      }
      published.then(
        (report) =>
          callback(null, { ...report, sequence: report.sequence ?? 0, duplicate: report.duplicate ?? false }),
        (error: unknown) => callback(toServiceError(error, logger)),
      );
    },
  });
  const { address } = options;
  if (address.kind === 'unix') await removeStaleSocket(address.path);
  const port = await bindServer(server, address.address, grpc.ServerCredentials.createInsecure());
  const stopping = createServerShutdown(server);
  let socketInode: number | undefined;
  try {
    if (address.kind === 'unix') socketInode = await restrictSocket(address.path);
  } catch (error) {
    stopping.force();
    throw error;
  }
  const removeSocket = async () => {
    if (address.kind === 'unix' && socketInode !== undefined)
      await removeOwnSocket(address.path, socketInode);
  };
  const host = address.address.slice(0, address.address.lastIndexOf(':'));
  return {
    address: address.kind === 'unix' ? address.address : `${host}:${port}`,
    shutdown: (graceMs) => stopping.shutdown(graceMs).then(removeSocket),
  };
}

/** A call the app makes on the outbound port. */
type AppCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

/** What an app's call continues, as the outbound port reads it. */
interface Continuation {
  /** The context the call continues: the inbound call (or event) of its token, else a new chain (empty). */
  parent: CallContext;
  /** Mesh-owned keys the app sent, which are ignored. */
  ignored: string[];
}

/** What an app's outbound call asks for, as the outbound port reads it. */
interface OutboundCall extends Continuation {
  target: TargetQuery;
  options: Pick<MeshCallOptions, 'idempotent' | 'priority' | 'timeoutMs'>;
}

/**
 * Reads what the app asks of an outbound call: the target, whether it is idempotent and its priority class from
 * its metadata, its deadline, and the inbound call it continues (by token). Nothing else the app sends is taken.
 * @throws MeshError INVALID_ARGUMENT for a missing or malformed target type, selector or priority,
 * FAILED_PRECONDITION for a token that names no call in flight.
 */
function readOutboundCall(call: AppCall, calls: ForwardedCalls): OutboundCall {
  const header = (key: string) => call.metadata.get(key)[0]?.toString();
  const type = header(SIDECAR_METADATA.targetType);
  if (!type) {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `no target: set the metadata "${SIDECAR_METADATA.targetType}" to the type of agent to call, e.g. summarizer`,
    );
  }
  const valid = validateAgentType(type);
  if (!valid.ok) {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `invalid "${SIDECAR_METADATA.targetType}": ${valid.error.message}`,
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
  const options: OutboundCall['options'] = { idempotent: header(SIDECAR_METADATA.idempotent) === 'true' };
  const priority = header(SIDECAR_METADATA.priority);
  if (priority) {
    if (!isPriorityClass(priority)) {
      throw new MeshError(
        Code.INVALID_ARGUMENT,
        `invalid "${SIDECAR_METADATA.priority}" ${quote(priority, 32)}: use one of ${PRIORITY_CLASSES.join(', ')}`,
      );
    }
    options.priority = priority;
  }
  // The app's own deadline bounds the call; the mesh client also keeps it within the inbound call's.
  const raw = call.getDeadline();
  const deadline = raw instanceof Date ? raw.getTime() : raw;
  if (Number.isFinite(deadline)) options.timeoutMs = Math.max(1, deadline - Date.now());
  return { target, options, ...readContinuation(call, calls) };
}

/**
 * Reads which inbound call (or event being handled) an app's call continues, by the token it brings back, and the
 * mesh-owned keys it sent that are ignored.
 * @throws MeshError FAILED_PRECONDITION for a token that names no call in flight.
 */
function readContinuation(call: AppCall, calls: ForwardedCalls): Continuation {
  const token = call.metadata.get(SIDECAR_METADATA.callToken)[0]?.toString();
  let parent: CallContext = { chain: [] };
  if (token) {
    const inbound = calls.get(token);
    if (!inbound) {
      throw new MeshError(
        Code.FAILED_PRECONDITION,
        `"${SIDECAR_METADATA.callToken}" names no call or event this sidecar is forwarding to the app (it has ended, ` +
          'or the token was not one the sidecar gave): send the token of the call being handled while handling it, ' +
          'or none to start a new chain',
      );
    }
    parent = inbound;
  }
  const ignored = Object.keys(call.metadata.getMap()).filter(
    (key) => key.startsWith('x-agentmesh-') && !APP_KEYS.has(key),
  );
  return { parent, ignored: ignored.slice(0, 8).map((key) => key.slice(0, 64)) };
}
