import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import type { InvocationContext } from '../agent/agent-service.js';
import { CONTEXT_KEYS, type CallContext } from '../core/call-context.js';
import { Code, MeshError } from '../core/errors.js';
import type { EventHandlerClient } from '../generated/agentmesh/v1/EventHandler.js';
import type { HandleEventResponse__Output } from '../generated/agentmesh/v1/HandleEventResponse.js';
import {
  dropEvent,
  eventToWire,
  retryLater,
  type EventOutcome,
  type ReceivedEvent,
} from '../pubsub/event.js';
import { loadEventProtos, loadProtos } from '../transport/protos.js';
import { fromServiceError } from '../transport/status.js';
import { AppHttp2 } from './app-http2.js';
import { ForwardedCalls } from './forwarded-calls.js';

const require = createRequire(import.meta.url);

/**
 * Metadata keys between the sidecar and its app. Inbound, the sidecar tells the app who called: the caller's SPIFFE
 * ID, verified from its client certificate by the sidecar (the app's plaintext port cannot check it itself), and a
 * token for the call. Outbound, the app names the agents to call, and may hand the token back to make the call part
 * of the one it is handling. Every other `x-agentmesh-*` key an app sends (a caller, a chain, a deadline, a
 * conversation, a tenant) belongs to the mesh and is ignored on the outbound port; `x-agentmesh-priority` is the one
 * context key an app may set itself (callees decide what a priority class gets).
 */
export const SIDECAR_METADATA = {
  /** Inbound: the verified SPIFFE ID of the caller. */
  caller: 'x-agentmesh-caller',
  /**
   * Inbound: an opaque token for this call, valid while it is in flight. Outbound (optional): the token of the call
   * being handled, so that the outbound call continues its trace, conversation, tenant, priority, caller chain and
   * deadline; without it the call starts a new chain at this agent.
   */
  callToken: 'x-agentmesh-call-token',
  /** Outbound: the agent type to call (required). */
  targetType: 'x-agentmesh-target-type',
  /** Outbound: a label selector the agents must match, e.g. `zone=eu-1,!beta` (optional). */
  targetSelector: 'x-agentmesh-target-selector',
  /** Outbound: `true` when the call may run twice without harm, so that it fails over even after reaching an agent. */
  idempotent: 'x-agentmesh-idempotent',
  /** Outbound (optional): the priority class to ask of callees (`interactive`, `default`, `batch`). */
  priority: CONTEXT_KEYS.priority,
} as const;

/** What the app's `grpc.health.v1` Check said: its status, or why it could not be asked. */
export type AppHealth = { ok: true; serving: boolean; status: string } | { ok: false; reason: string };

interface HealthClient extends grpc.Client {
  Check(
    request: { service: string },
    options: grpc.CallOptions,
    callback: (error: grpc.ServiceError | null, response?: { status: string }) => void,
  ): grpc.ClientUnaryCall;
}

interface HealthProtos {
  grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
}

/** The app's methods the sidecar forwards to, on its own `agentmesh.v1.Agent` server. */
const INVOKE = '/agentmesh.v1.Agent/Invoke';
const INVOKE_STREAM = '/agentmesh.v1.Agent/InvokeStream';
/** The serializer and deserializer of a message passed on as it is: its protobuf bytes. */
const asIs = (message: Buffer): Buffer => message;
/** The sidecar's channel to its app: without channelz, as the mesh's own channels (see `MESH_CHANNEL_OPTIONS`). */
const APP_CHANNEL_OPTIONS: grpc.ChannelOptions = Object.freeze({ 'grpc.enable_channelz': 0 });

/**
 * The sidecar's plaintext gRPC connection to its app (a Unix socket or loopback): forwards calls to the app's own
 * `agentmesh.v1.Agent` server as protobuf bytes, never decoded, with the verified caller, the call's token (recorded
 * in `calls` while the call is in flight) and the propagated context as metadata, and asks the app's
 * `grpc.health.v1` how it is.
 */
export class AppConnection {
  /** Unary calls, the hot path: gRPC over node:http2 (see AppHttp2). Streams, health and events: grpc-js. */
  private readonly unary: AppHttp2;
  private readonly agent: grpc.Client;
  private readonly health: HealthClient;
  private readonly events: EventHandlerClient;

  constructor(
    readonly address: string,
    private readonly calls: ForwardedCalls = new ForwardedCalls(),
  ) {
    this.unary = new AppHttp2(address);
    // One credentials object and the same options for all three clients: they share one connection.
    const credentials = grpc.credentials.createInsecure();
    this.agent = new grpc.Client(address, credentials, APP_CHANNEL_OPTIONS);
    const protoPath = (require('grpc-health-check') as { protoPath: string }).protoPath;
    const Health = loadProtos<HealthProtos>([protoPath], []).protos.grpc.health.v1.Health;
    this.health = new Health(address, credentials, APP_CHANNEL_OPTIONS) as unknown as HealthClient;
    this.events = new (loadEventProtos().protos.agentmesh.v1.EventHandler)(
      address,
      credentials,
      APP_CHANNEL_OPTIONS,
    );
  }

  /**
   * Forwards a unary call to the app: `request` is the `InvokeRequest` to send (see `forwardedRequest`); resolves
   * with the app's `InvokeResponse` as it sent it.
   * @throws MeshError with the app's own status and message; UNAVAILABLE naming the app when it cannot be reached.
   */
  invoke(request: Buffer, call: InvocationContext): Promise<Buffer> {
    const token = this.calls.open(call.context);
    const headers = this.headersFor(call.caller.uri, call.context, token);
    return this.unary.unary(INVOKE, request, headers, call.deadline).then(
      (outcome) => {
        this.calls.close(token);
        if (outcome.ok) return outcome.value;
        throw this.appError(outcome.error);
      },
      (error: unknown) => {
        this.calls.close(token);
        throw this.appError(error);
      },
    );
  }

  /**
   * Forwards a streamed call to the app and yields the app's `InvokeChunk`s as it sent them, one by one (nothing is
   * buffered beyond what the transport holds; a slow reader pauses the app through flow control). Ending the
   * iteration early cancels the app's stream.
   * @throws MeshError as {@link AppConnection.invoke}.
   */
  async *invokeStream(request: Buffer, call: InvocationContext): AsyncGenerator<Buffer> {
    const token = this.calls.open(call.context);
    const stream = this.agent.makeServerStreamRequest(
      INVOKE_STREAM,
      asIs,
      asIs,
      request,
      this.metadata(call, token),
      this.callOptions(call),
    );
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) yield chunk;
    } catch (error) {
      throw this.appError(error);
    } finally {
      stream.cancel(); // no-op after the end; stops the app when the caller went away
      this.calls.close(token);
    }
  }

  /**
   * Hands one delivery of a subscription to the app's `agentmesh.v1.EventHandler.HandleEvent`, with the publisher as
   * the caller and a token that lets the app's outbound calls and publishes continue the event's context; resolves
   * with the app's outcome (acknowledged, retry later, drop) within `timeoutMs`.
   * @throws MeshError with the app's status and message (the delivery is then retried); UNAVAILABLE naming the app
   *   when it cannot be reached, UNIMPLEMENTED saying what to serve when the app has no EventHandler.
   */
  handleEvent(event: ReceivedEvent, timeoutMs: number): Promise<EventOutcome> {
    const token = this.calls.open(event.context);
    const request = {
      event: eventToWire(event),
      attempt: event.attempt,
      pattern: event.pattern,
      group: event.group,
    };
    return new Promise<EventOutcome>((resolve, reject) => {
      this.events.HandleEvent(
        request,
        this.metadataFor(event.publisher, event.context, token),
        { deadline: Date.now() + timeoutMs },
        (error, response) => {
          this.calls.close(token);
          if (error || !response) reject(this.eventError(error));
          else resolve(outcomeOf(response));
        },
      );
    });
  }

  /** Asks the app's `grpc.health.v1` about the whole server (service ""), within `timeoutMs`. */
  checkHealth(timeoutMs: number): Promise<AppHealth> {
    return new Promise((resolve) => {
      this.health.Check({ service: '' }, { deadline: Date.now() + timeoutMs }, (error, response) => {
        if (error)
          resolve({ ok: false, reason: `${grpc.status[error.code] ?? error.code}: ${error.details}` });
        else resolve({ ok: true, serving: response?.status === 'SERVING', status: response?.status ?? '' });
      });
    });
  }

  close(): void {
    this.unary.close();
    this.agent.close();
    this.health.close();
    this.events.close();
  }

  private metadata(call: InvocationContext, token: string): grpc.Metadata {
    return this.metadataFor(call.caller.uri, call.context, token);
  }

  private metadataFor(caller: string, context: CallContext, token: string): grpc.Metadata {
    const metadata = new grpc.Metadata();
    for (const [key, value] of Object.entries(this.headersFor(caller, context, token)))
      metadata.set(key, value);
    return metadata;
  }

  /** What the app is told of a call: the verified caller, the call's token and the context, as header values. */
  private headersFor(caller: string, context: CallContext, token: string): Record<string, string> {
    const headers: Record<string, string> = {
      [SIDECAR_METADATA.caller]: caller,
      [SIDECAR_METADATA.callToken]: token,
    };
    // The same keys the mesh uses between agents, for the app to read and log. Its outbound calls continue this
    // call through the token, never through these: the outbound port ignores them, so an app cannot claim a chain.
    if (context.traceparent) headers[CONTEXT_KEYS.traceparent] = context.traceparent;
    if (context.tracestate) headers[CONTEXT_KEYS.tracestate] = context.tracestate;
    if (context.conversationId) headers[CONTEXT_KEYS.conversationId] = context.conversationId;
    if (context.tenant) headers[CONTEXT_KEYS.tenant] = context.tenant;
    if (context.priority) headers[CONTEXT_KEYS.priority] = context.priority;
    if (context.chain.length > 0) headers[CONTEXT_KEYS.chain] = context.chain.join(',');
    return headers;
  }

  private callOptions(call: InvocationContext): grpc.CallOptions {
    return Number.isFinite(call.deadline) ? { deadline: call.deadline } : {};
  }

  private eventError(error: unknown): MeshError {
    const failure = this.appError(error);
    if (failure.code !== Code.UNIMPLEMENTED) return failure;
    return new MeshError(
      Code.UNIMPLEMENTED,
      `the app behind this agent's sidecar (${this.address}) does not serve agentmesh.v1.EventHandler: implement ` +
        "HandleEvent (proto/agentmesh/v1/events.proto) to receive the events of the sidecar's --subscribe patterns",
      { cause: error },
    );
  }

  private appError(error: unknown): MeshError {
    const failure = fromServiceError(error);
    if (failure.code !== Code.UNAVAILABLE) return failure;
    return new MeshError(
      Code.UNAVAILABLE,
      `the app behind this agent's sidecar (${this.address}) is unavailable: ${failure.message}`,
      { cause: error },
    );
  }
}

/**
 * The outcome an app's `HandleEventResponse` asks for: ACK (or none) acknowledges, RETRY and DROP as named. The
 * subscriber bounds the reason when it acks, as for any handler's.
 */
function outcomeOf(response: HandleEventResponse__Output): EventOutcome {
  const { reason } = response;
  switch (response.outcome) {
    case 'ACK_OUTCOME_RETRY': {
      const after = Number(response.retryAfterMs);
      return retryLater(after > 0 ? after : undefined, reason || 'the app asked to retry it later');
    }
    case 'ACK_OUTCOME_DROP':
    case 'ACK_OUTCOME_REFUSED':
      return dropEvent(reason || 'the app dropped it');
    default:
      return { outcome: 'ack' };
  }
}
