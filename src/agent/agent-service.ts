import { Code, MeshError, quote } from '../core/errors.js';
import { composeServerInterceptors, type ServerInterceptor } from '../core/server-call.js';
import type { CallContext } from '../core/call-context.js';
import type { InvokeRequest__Output } from '../generated/agentmesh/v1/InvokeRequest.js';
import type { InvokeResponse } from '../generated/agentmesh/v1/InvokeResponse.js';
import type { Logger } from '../observability/logger.js';
import { DELIVER_EVENTS_SERVER_CODEC } from '../transport/delivery-codec.js';
import type { SubscriptionSet } from '../pubsub/subscriber.js';
import type { MeshIdentity, VerifiedPeer } from '../transport/mesh-identity.js';
import { loadMeshProtos } from '../transport/protos.js';
import type { ServiceRegistration } from '../transport/server.js';
import {
  interceptedHandler,
  streamMethod,
  unaryMethod,
  type CallTarget,
  type PipelineOptions,
} from '../transport/server-pipeline.js';
import { arrivalInterceptors, authorization, routeCheck } from './server-interceptors.js';

export { TOKENS_TRAILER, readIncomingCall, type IncomingCall } from '../transport/server-pipeline.js';

const METHOD_NAME = /^[A-Za-z0-9._/-]{1,128}$/;
const SERVICE = 'agentmesh.v1.Agent';

/**
 * Checks that a generic call's method is a valid name, as every generic call's route check does first.
 * @throws MeshError INVALID_ARGUMENT naming the rule.
 */
export function checkMethodName(method: string): void {
  if (!METHOD_NAME.test(method)) {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `invalid method name "${method.slice(0, 40)}": use 1-128 letters, digits, ".", "_", "-" or "/"`,
    );
  }
}

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
  /**
   * The server interceptors every call of the service passes through, composed once (see
   * `composeServerInterceptors`); the agent runtime passes its own, shared with the user's typed services.
   * Default: {@link agentServicePipeline} of these options (`authorize`, `onCallEnd`, `hopLimit`, `type` are
   * used only there).
   */
  pipeline?: ServerInterceptor;
}

/** A generic call's target: its method, and the handler the route check found for it. */
interface GenericTarget<H> extends CallTarget {
  handler?: H;
}

/**
 * The interceptors of a service made by {@link createAgentService} without a `pipeline` of its own: the server
 * span and `onCallEnd`, the arrival checks (deadline, hop limit), the call context, `authorize`, the route check.
 */
export function agentServicePipeline(options: AgentServiceOptions): ServerInterceptor {
  const { authorize, onCallEnd } = options;
  return composeServerInterceptors([
    ...arrivalInterceptors({
      type: options.type ?? 'agent',
      ...(onCallEnd ? { record: (call, code, ms) => onCallEnd(call.caller, call.method, code, ms) } : {}),
      hopLimit: options.hopLimit,
    }),
    ...(authorize
      ? [authorization((caller, method, kind) => (kind === 'events' ? undefined : authorize(caller, method)))]
      : []),
    routeCheck,
  ]);
}

/**
 * The `agentmesh.v1.Agent` service of an agent: `Invoke` runs the handler registered for the method, and
 * `InvokeStream` the stream handler, each with the caller's verified identity, after the pipeline's checks
 * (authorization before the method lookup), inside the propagated call context; `DeliverEvents` hands
 * publishers' deliveries to the agent's subscriptions. Every call passes through `pipeline`.
 */
export function createAgentService(options: AgentServiceOptions): ServiceRegistration {
  const { protos } = loadMeshProtos();
  const methods = new Map(Object.entries(options.methods));
  const streams = new Map(Object.entries(options.streams ?? {}));
  const edge: PipelineOptions = {
    identity: options.identity,
    logger: options.logger,
    pipeline: options.pipeline ?? agentServicePipeline(options),
  };

  /** Where a generic call goes: its handler among `handlers`, or the fallback's, found by the route check. */
  const targetOf =
    <H>(handlers: Map<string, H>, fallback: HandlerFallback<H> | undefined) =>
    (request: InvokeRequest__Output): GenericTarget<H> => {
      const { method } = request;
      const target: GenericTarget<H> = {
        service: SERVICE,
        method,
        known: methods.has(method) || streams.has(method),
        route: () => (target.handler = findHandler(method, handlers, fallback)),
      };
      return target;
    };

  /** The handler for `method`, or the refusal that says why there is none (and how to call it instead). */
  const findHandler = <H>(
    method: string,
    handlers: Map<string, H>,
    fallback: HandlerFallback<H> | undefined,
  ): H => {
    checkMethodName(method);
    const handler = handlers.get(method) ?? fallback?.(method);
    if (handler) return handler;
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
    // Both kinds, each named as such: a caller who picked the wrong one learns how to call the other.
    const unary = [...methods.keys()].sort();
    const streamedNames = [...streams.keys()].sort().map((name) => `${name} (streamed: --stream)`);
    const known = [...unary, ...streamedNames].join(', ') || '(none)';
    throw new MeshError(Code.UNIMPLEMENTED, `unknown method ${quote(method)}; this agent serves: ${known}`);
  };

  /** The handler the route check found, or (in a pipeline without one) finds it now. */
  const handlerOf = <H>(
    target: GenericTarget<H>,
    handlers: Map<string, H>,
    fallback: HandlerFallback<H> | undefined,
  ): H => target.handler ?? findHandler(target.method, handlers, fallback);

  const { events } = options;
  const implementation = {
    Invoke: unaryMethod<InvokeRequest__Output, InvokeResponse, GenericTarget<MethodHandler>>(
      edge,
      targetOf(methods, options.fallback?.method),
      (request, call, target) =>
        handlerOf(target, methods, options.fallback?.method)(payloadOf(request), call),
    ),
    InvokeStream: streamMethod<InvokeRequest__Output, InvokeResponse, GenericTarget<StreamHandler>>(
      edge,
      targetOf(streams, options.fallback?.stream),
      (request, call, target) =>
        handlerOf(target, streams, options.fallback?.stream)(payloadOf(request), call),
    ),
    DeliverEvents: interceptedHandler(
      edge,
      {
        service: SERVICE,
        method: 'DeliverEvents',
        known: true,
        route: () => {
          if (!events) throw new MeshError(Code.UNIMPLEMENTED, 'this agent has no event subscriptions');
        },
      },
      { requestStream: true, responseStream: true },
      (call: Parameters<SubscriptionSet['serve']>[0]) => events?.serve(call),
      'events',
    ),
  };
  const { service } = protos.agentmesh.v1.Agent;
  // Deliveries are read and acks written by the pub/sub codec: each event stays bytes until decoded once.
  const definition = {
    ...service,
    DeliverEvents: { ...service.DeliverEvents, ...DELIVER_EVENTS_SERVER_CODEC },
  };
  return { name: SERVICE, definition, implementation, verifiesPeers: true };
}

/** What a generic handler is given of a request: the payload and its media type. */
function payloadOf(request: InvokeRequest__Output): InvocationPayload {
  return { payload: request.payload, contentType: request.contentType };
}
