import type { CallContext } from './call-context.js';
import { Code, MeshError } from './errors.js';
import type { PriorityClass } from './priority.js';
import type { VerifiedPeer } from './spiffe-id.js';

/**
 * What a served call answers with: one answer (`unary`: unary and client-streaming methods), a stream of answers
 * (`stream`: server-streaming and bidi methods), or acks for event deliveries (`events`: `Agent.DeliverEvents`,
 * which is neither rate-limited nor queued: each subscription bounds its own deliveries in flight).
 */
export type ServerCallKind = 'unary' | 'stream' | 'events';

/**
 * One call an agent serves, as every server interceptor sees it, whatever its wire shape: generic `Invoke` and
 * `InvokeStream`, every method of a user's typed service, and event-delivery streams. It holds no gRPC object:
 * the transport's adapter makes it from the wire call, and answers the call from what the pipeline did.
 */
export interface ServerCall {
  /** The fully qualified service, e.g. `agentmesh.v1.Agent` or `demo.v1.Translator`. */
  readonly service: string;
  /**
   * The method as policies name it: a generic method's own name (`summarize`), `<package.Service>/<Method>` for
   * a typed one, `DeliverEvents` for event deliveries. A generic name comes from the request: it is the caller's
   * input until the route check has passed.
   */
  readonly method: string;
  readonly kind: ServerCallKind;
  /** The caller's verified SPIFFE ID and entitled types (from its certificate, never from the request). */
  readonly caller: VerifiedPeer;
  /** The call's deadline in ms since the epoch; Infinity when the caller set none. */
  readonly deadline: number;
  /**
   * The context the caller propagated; the chain already ends with the verified caller. Interceptors continue
   * it (the server span's traceparent, the granted priority) before the handler runs inside it.
   */
  readonly context: CallContext;
  /** Aborts when the caller goes away (cancels, or its deadline passes) before the answer. */
  readonly signal: AbortSignal;
  /**
   * Whether the service serves the method by that name (a handler of its own, a typed method): metrics name
   * only such methods, so callers cannot make up label values.
   */
  readonly known: boolean;
  /**
   * Whether the route check found where the call goes (see {@link ServerCall.route}); until then a method that
   * is not {@link ServerCall.known} is the caller's made-up name.
   */
  routed: boolean;
  /**
   * The route check: returns when something serves the method, else throws the MeshError to answer with
   * (INVALID_ARGUMENT for a malformed name, UNIMPLEMENTED for an unknown method).
   */
  readonly route: () => void;
  /** The priority class the call runs at: the caller's ask (`default` when none) until admission grants one. */
  priority: PriorityClass;
  /** LLM tokens the handler reported for its answer (summed over a stream's chunks); 0 when none. */
  tokens: number;
  /**
   * Registers `ended` to run once the call has ended (its answer went out, its stream finished, or it failed),
   * told whether it failed and with what: an interceptor's `finally`, without the promise an `await` or a `then`
   * of its own would cost every call at every layer. Endings run innermost first, as `finally` blocks would
   * unwind, once the handler and every interceptor have settled, and before a failure is answered.
   */
  onEnded(ended: CallEnded): void;
}

/** What an interceptor runs when its call has ended (see {@link ServerCall.onEnded}). */
export type CallEnded = (failed: boolean, error: unknown) => void;

/**
 * Serves a call: the innermost handler answers it and resolves once the answer went out or the stream ended;
 * a rejection carries the MeshError to answer with (anything else leaves as UNKNOWN), turned into a status once,
 * by the adapter at the edge.
 */
export type ServerHandler = (call: ServerCall) => Promise<void>;

/**
 * A cross-cutting concern of served calls, in the shape of connect-es and nice-grpc middleware: it gets the next
 * handler and returns one that runs code before it (refusing with a thrown MeshError) and after it (`finally`,
 * or {@link ServerCall.onEnded}, which the mesh's own interceptors use: it costs a call no promise).
 */
export type ServerInterceptor = (next: ServerHandler) => ServerHandler;

/**
 * Composes interceptors into one, the first outermost: `composeServerInterceptors([a, b])(handler)` runs `a`,
 * then `b`, then `handler`, and unwinds in the opposite order. Compose once and apply the result to each
 * method's innermost handler, so that every kind of call passes through the same chain.
 */
export function composeServerInterceptors(interceptors: readonly ServerInterceptor[]): ServerInterceptor {
  return (next) => interceptors.reduceRight<ServerHandler>((inner, interceptor) => interceptor(inner), next);
}

/**
 * Refuses a call whose deadline had passed when it arrived: its caller was told DEADLINE_EXCEEDED already and may
 * rely on it not running (e.g. to run it elsewhere).
 * @throws MeshError DEADLINE_EXCEEDED saying that the call did not run.
 */
export function checkArrivalDeadline(deadline: number, now = Date.now()): void {
  if (deadline <= now) {
    throw new MeshError(
      Code.DEADLINE_EXCEEDED,
      `the call's deadline had passed when it arrived (${now - deadline} ms ago); it did not run`,
    );
  }
}

/**
 * The status code a handler's failure leaves with: a MeshError's own, UNKNOWN for anything else (a bug, whose
 * message stays on the server), so interceptors record the code the caller gets.
 */
export function failureOf(error: unknown): MeshError {
  return error instanceof MeshError
    ? error
    : new MeshError(Code.UNKNOWN, 'internal error (logged by the server)', { cause: error });
}
