import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { Span } from '@opentelemetry/api';
import { Code, MeshError, quote } from '../core/errors.js';
import {
  CONTEXT_KEYS,
  checkHopLimit,
  contextFromMetadata,
  deadlineFromMetadata,
  newTraceparent,
  runWithContext,
  type CallContext,
} from '../core/call-context.js';
import type { AckBatch } from '../generated/agentmesh/v1/AckBatch.js';
import type { EventDeliveryBatch__Output } from '../generated/agentmesh/v1/EventDeliveryBatch.js';
import type { InvokeRequest__Output } from '../generated/agentmesh/v1/InvokeRequest.js';
import type { InvokeResponse } from '../generated/agentmesh/v1/InvokeResponse.js';
import type { Logger } from '../observability/logger.js';
import { SpanKind, endSpan, startSpan, traceparentOf, withSpan } from '../observability/tracing.js';
import type { SubscriptionSet } from '../pubsub/subscriber.js';
import { peerIdentity } from '../transport/credentials.js';
import type { MeshIdentity, VerifiedPeer } from '../transport/mesh-identity.js';
import { loadMeshProtos } from '../transport/protos.js';
import type { ServiceRegistration } from '../transport/server.js';
import { toServiceError } from '../transport/status.js';
import { callGone, pumpToCall } from '../transport/stream-pump.js';

const METHOD_NAME = /^[A-Za-z0-9._/-]{1,128}$/;

/** What a handler of a generic method is told about its call. */
export interface InvocationContext {
  /** The caller's verified SPIFFE ID and entitled types (from its certificate, never from the request). */
  caller: VerifiedPeer;
  /** The call's deadline in ms since the epoch; Infinity when the caller set none. */
  deadline: number;
  /** Context propagated by the caller (trace, conversation, tenant, priority, caller chain). */
  context: CallContext;
  /** Aborts when the caller goes away (cancels, or its deadline passes) before the answer. */
  signal?: AbortSignal;
}

/** A request to a generic method: the payload bytes and their media type. */
export interface InvocationPayload {
  payload: Buffer;
  contentType: string;
  /**
   * LLM tokens the answer used (or, for a streamed chunk, this chunk used): charged to the caller's tokens-per-minute
   * budgets and sent to the caller in the `x-agentmesh-tokens` trailer.
   */
  tokens?: number;
}

/** The trailer that reports the tokens an answer used. */
export const TOKENS_TRAILER = 'x-agentmesh-tokens';

/** Handles one generic method; throw a MeshError to answer with a status. */
export type MethodHandler = (
  request: InvocationPayload,
  call: InvocationContext,
) => Promise<InvocationPayload>;

/** Handles one streamed method: yields the chunks of the answer (e.g. tokens) as they are produced. */
export type StreamHandler = (
  request: InvocationPayload,
  call: InvocationContext,
) => AsyncIterable<InvocationPayload>;

/** Finds the handler for a method that has none of its own, by the method's name; undefined: UNIMPLEMENTED. */
export type HandlerFallback<H> = (method: string) => H | undefined;

/** Options for {@link createAgentService}. */
export interface AgentServiceOptions {
  identity: MeshIdentity;
  /** The generic methods the agent serves, by name. */
  methods: Record<string, MethodHandler>;
  /** The streamed methods, by name. */
  streams?: Record<string, StreamHandler>;
  logger: Logger;
  /**
   * Decides whether `caller` may invoke `method` before the handler runs; throws a MeshError (PERMISSION_DENIED)
   * to refuse. The agent runtime enforces the control plane's policies here.
   */
  authorize?: (caller: VerifiedPeer, method: string) => void;
  /** The agent's event subscriptions, which receive `DeliverEvents` streams. */
  events?: SubscriptionSet;
  /** Most agents a caller chain may hold on arrival (default 10); a longer one is refused as a loop. */
  hopLimit?: number;
  /** The agent's type, naming its server spans (`<type>/<method>`). */
  type?: string;
  /**
   * Told about every generic call once answered (metrics): the verified caller (undefined when the call was
   * refused before it was known), the method, the gRPC code and the time taken.
   */
  onCallEnd?: (caller: VerifiedPeer | undefined, method: string, code: number, ms: number) => void;
  /**
   * Finds handlers for methods with no handler of their own in `methods` (unary) or `streams` (streamed), e.g. a
   * sidecar forwarding every method to its app; without one such a call is UNIMPLEMENTED. Authorization runs first.
   */
  fallback?: { method?: HandlerFallback<MethodHandler>; stream?: HandlerFallback<StreamHandler> };
}

/** What every server handler of an agent is told about an incoming call, generic or typed. */
export interface IncomingCall {
  getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null;
  getDeadline(): grpc.Deadline;
  metadata: grpc.Metadata;
}

/**
 * Reads an incoming call: the caller's verified identity, its deadline (Infinity when none), and the propagated
 * context. The chain always ends with the verified caller: it starts with it when the caller sent none (the first
 * hop sends no metadata), and it is appended when the chain sent ends with someone else (a forged or foreign
 * chain), so a handler never mistakes a claimed caller for the real one.
 * The deadline is the earlier of gRPC's (relative, counted from arrival) and the absolute one a mesh caller sends.
 * @throws MeshError UNAUTHENTICATED without a verified caller, DEADLINE_EXCEEDED when the caller's deadline has
 * passed already (the call never starts), FAILED_PRECONDITION for a chain longer than `hopLimit` (a call loop).
 */
export function readIncomingCall(
  call: IncomingCall,
  identity: MeshIdentity,
  hopLimit?: number,
): InvocationContext {
  const caller = peerIdentity(call, identity);
  const raw = call.getDeadline();
  const sent = deadlineFromMetadata(call.metadata.get(CONTEXT_KEYS.deadline)[0]?.toString());
  const deadline = Math.min(raw instanceof Date ? raw.getTime() : raw, sent ?? Infinity);
  // A call whose caller has given up already never starts: the caller was told DEADLINE_EXCEEDED and may rely on
  // it not running (e.g. to run it elsewhere).
  if (deadline <= Date.now()) {
    throw new MeshError(
      Code.DEADLINE_EXCEEDED,
      `the call's deadline had passed when it arrived (${Date.now() - deadline} ms ago); it did not run`,
    );
  }
  const context: CallContext = {
    ...contextFromMetadata((key) => call.metadata.get(key)[0]?.toString()),
    ...(Number.isFinite(deadline) ? { deadline } : {}),
  };
  if (context.chain.at(-1) !== caller.uri) context.chain.push(caller.uri);
  // A call that starts a chain arrives without a trace (its caller sends no metadata): it starts one here, so
  // that everything logged or called while handling it shares a trace id.
  context.traceparent ??= newTraceparent();
  checkHopLimit(context.chain, hopLimit);
  return { caller, deadline, context };
}

/**
 * The `agentmesh.v1.Agent` service of an agent: `Invoke` runs the handler registered for the method, and
 * `InvokeStream` the stream handler, each with the caller's verified identity, after the authorization hook, inside
 * the propagated call context; `DeliverEvents` hands publishers' deliveries to the agent's subscriptions.
 */
export function createAgentService(options: AgentServiceOptions): ServiceRegistration {
  const { protos } = loadMeshProtos();
  const methods = new Map(Object.entries(options.methods));
  const streams = new Map(Object.entries(options.streams ?? {}));

  /** Validates and authorizes a call to one of `handlers`, and builds what the handler is told. */
  const prepare = <H>(
    call:
      | grpc.ServerUnaryCall<InvokeRequest__Output, unknown>
      | grpc.ServerWritableStream<InvokeRequest__Output, unknown>,
    handlers: Map<string, H>,
    span: ServerSpan,
    fallback: HandlerFallback<H> | undefined,
  ): { handler: H; request: InvocationPayload; invocation: InvocationContext } => {
    const { method, payload, contentType } = call.request;
    if (!METHOD_NAME.test(method)) {
      throw new MeshError(
        Code.INVALID_ARGUMENT,
        `invalid method name "${method.slice(0, 40)}": use 1-128 letters, digits, ".", "_", "-" or "/"`,
      );
    }
    // Authorization comes before the method lookup: a caller the policies refuse learns nothing of the methods.
    const invocation = readIncomingCall(call, options.identity, options.hopLimit);
    // Made when first asked for (a call waiting in the agent's queue): most calls never need one.
    let gone: AbortController | undefined;
    Object.defineProperty(invocation, 'signal', {
      enumerable: true,
      get: () => {
        if (!gone) {
          const controller = (gone = new AbortController());
          if (call.cancelled) controller.abort();
          else call.once('cancelled', () => controller.abort());
        }
        return gone.signal;
      },
    });
    span.caller = invocation.caller;
    span.adopt(invocation.context);
    options.authorize?.(invocation.caller, method);
    const handler = handlers.get(method) ?? fallback?.(method);
    if (!handler) {
      // The method may be there as the other kind: say how to call it rather than that it does not exist.
      const streamed = (handlers as Map<string, unknown>) === streams;
      if ((streamed ? methods : streams).has(method)) {
        throw new MeshError(
          Code.UNIMPLEMENTED,
          streamed
            ? `${quote(method)} is a unary method: call it with Invoke (agent-mesh call without --stream)`
            : `${quote(method)} is a streamed method: call it with InvokeStream (agent-mesh call --stream)`,
        );
      }
      const known = [...handlers.keys()].sort().join(', ') || '(none)';
      throw new MeshError(Code.UNIMPLEMENTED, `unknown method ${quote(method)}; this agent serves: ${known}`);
    }
    return { handler, request: { payload, contentType }, invocation };
  };

  const implementation = {
    Invoke: (
      call: grpc.ServerUnaryCall<InvokeRequest__Output, InvokeResponse>,
      callback: grpc.sendUnaryData<InvokeResponse>,
    ) => {
      const span = new ServerSpan(call, options);
      const fail = (error: unknown) => {
        const status = toServiceError(error, options.logger);
        span.end(status);
        callback(status);
      };
      let prepared: ReturnType<typeof prepare<MethodHandler>>;
      try {
        prepared = prepare(call, methods, span, options.fallback?.method);
      } catch (error) {
        fail(error);
        return;
      }
      const { handler, request, invocation } = prepared;
      // The handler, its answer and any error logged on the way run in the call's context: calls it makes inherit
      // trace, conversation, chain and deadline, and log lines carry the trace id and the caller.
      runWithContext(invocation.context, () => {
        span
          .run(async () => handler(request, invocation))
          .then(({ tokens, ...response }) => {
            span.end(undefined);
            if (!(tokens !== undefined && tokens > 0)) return callback(null, response);
            const trailer = new grpc.Metadata();
            trailer.set(TOKENS_TRAILER, String(Math.round(tokens)));
            callback(null, response, trailer);
          }, fail);
      });
    },
    InvokeStream: (call: grpc.ServerWritableStream<InvokeRequest__Output, InvokeResponse>) => {
      // Settles when the call ends early (the caller cancelled, or the stream closed or failed): the handler is
      // then stopped even while it waits for a slow reader, whose 'drain' will never come.
      const gone = callGone(call);
      const span = new ServerSpan(call, options);
      const fail = (error: unknown) => {
        const status = toServiceError(error, options.logger);
        span.end(status);
        call.emit('error', status);
      };
      let prepared: ReturnType<typeof prepare<StreamHandler>>;
      try {
        prepared = prepare(call, streams, span, options.fallback?.stream);
      } catch (error) {
        fail(error);
        return;
      }
      const { handler, request, invocation } = prepared;
      runWithContext(invocation.context, () => {
        span
          .run(async () => pumpToCall(handler(request, invocation), call, gone))
          .then(() => {
            span.end(
              call.cancelled ? new MeshError(Code.CANCELLED, 'the caller cancelled the stream') : undefined,
            );
            call.end();
          }, fail);
      });
    },
    DeliverEvents: (call: grpc.ServerDuplexStream<EventDeliveryBatch__Output, AckBatch>) => {
      if (options.events) options.events.serve(call);
      else
        call.emit('error', {
          code: grpc.status.UNIMPLEMENTED,
          details: 'this agent has no event subscriptions',
        });
    },
  };
  return { name: 'agentmesh.v1.Agent', definition: protos.agentmesh.v1.Agent.service, implementation };
}

/**
 * The server side of one generic call: its span (a child of the caller's, from the `traceparent` it sent) and
 * its measurement. Calls the handler makes continue the trace from this span when it records.
 */
class ServerSpan {
  caller: VerifiedPeer | undefined;
  private readonly started = performance.now();
  private readonly method: string;
  private readonly span: Span;

  constructor(
    call: IncomingCall & { request: InvokeRequest__Output },
    private readonly options: AgentServiceOptions,
  ) {
    this.method = call.request.method;
    this.span = startSpan(SpanKind.SERVER, () => ({
      name: `${options.type ?? 'agent'}/${this.method}`,
      attributes: {
        'rpc.system': 'grpc',
        'rpc.service': 'agentmesh.v1.Agent',
        'agentmesh.method': this.method,
      },
      parentTraceparent: call.metadata.get(CONTEXT_KEYS.traceparent)[0]?.toString(),
    }));
  }

  /** Makes the handler's context continue the trace from this span (when it records). */
  adopt(context: CallContext): void {
    const traceparent = traceparentOf(this.span);
    if (!traceparent) return;
    context.traceparent = traceparent;
    if (this.caller) this.span.setAttribute('agentmesh.caller', this.caller.uri);
  }

  run<T>(work: () => T): T {
    return withSpan(this.span, work);
  }

  end(status: { code?: number; details?: string } | MeshError | undefined): void {
    const code = status?.code ?? Code.OK;
    const error =
      status === undefined || status instanceof MeshError
        ? status
        : new MeshError((status.code ?? Code.UNKNOWN) as Code, status.details ?? '');
    // A method the agent does not serve is not named: callers cannot make up span names.
    if (code === Code.UNIMPLEMENTED || !METHOD_NAME.test(this.method)) {
      this.span.updateName(`${this.options.type ?? 'agent'}/unknown`);
    }
    endSpan(this.span, error);
    this.options.onCallEnd?.(this.caller, this.method, code, performance.now() - this.started);
  }
}
