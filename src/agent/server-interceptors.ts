import { checkHopLimit, newTraceparent, runWithContext } from '../core/call-context.js';
import { Code } from '../core/errors.js';
import {
  checkArrivalDeadline,
  failureOf,
  type ServerCall,
  type ServerInterceptor,
} from '../core/server-call.js';
import { SpanKind, endSpan, startSpan, traceparentOf, withSpan } from '../observability/tracing.js';

/** Options for {@link tracing}. */
export interface TracingOptions {
  /** The agent's type, naming its server spans (`<type>/<method>`). */
  type: string;
  /** Told about every call once it ended (metrics): the call, its gRPC code and the time it took in ms. */
  record?: (call: ServerCall, code: number, ms: number) => void;
}

/**
 * The server span and measurement of every call: a span `<type>/<method>`, a child of the caller's (from the
 * `traceparent` it sent), which the handler's context continues when it records; ended with the call's status
 * and reported to `record`. A method that nothing serves by that name is named `unknown`: callers cannot make up
 * span names.
 */
export function tracing(options: TracingOptions): ServerInterceptor {
  const describe = (call: ServerCall) => ({
    name: `${options.type}/${call.method}`,
    attributes: { 'rpc.system': 'grpc', 'rpc.service': call.service, 'agentmesh.method': call.method },
    parentTraceparent: call.context.traceparent,
  });
  return (next) => (call) => {
    const started = performance.now();
    const span = startSpan(SpanKind.SERVER, describe, call);
    const traceparent = traceparentOf(span);
    if (traceparent) {
      call.context.traceparent = traceparent;
      span.setAttribute('agentmesh.caller', call.caller.uri);
    }
    call.onEnded((failed, error) => {
      const failure = failed ? failureOf(error) : undefined;
      if (!call.known && !call.routed) span.updateName(`${options.type}/unknown`);
      endSpan(span, failure);
      options.record?.(call, failure?.code ?? Code.OK, performance.now() - started);
    });
    return withSpan(span, () => next(call));
  };
}

/** Refuses, DEADLINE_EXCEEDED, a call whose deadline had passed when it arrived: it does not run. */
export const arrivalDeadline: ServerInterceptor = (next) => (call) => {
  checkArrivalDeadline(call.deadline);
  return next(call);
};

/** Refuses, FAILED_PRECONDITION naming the chain, a call whose caller chain is longer than `limit` (a loop). */
export function hopLimit(limit?: number): ServerInterceptor {
  return (next) => (call) => {
    checkHopLimit(call.context.chain, limit);
    return next(call);
  };
}

/**
 * Runs the rest of the call inside its propagated context: calls the handler makes inherit trace, conversation,
 * chain and deadline, and log lines carry the trace id. A call that starts a chain arrives without a trace (its
 * caller sends no metadata): it starts one here, so everything logged or called while handling it shares one.
 */
export const callContext: ServerInterceptor = (next) => (call) => {
  call.context.traceparent ??= newTraceparent();
  return runWithContext(call.context, () => next(call));
};

/**
 * Runs the call's route check (see {@link ServerCall.route}): after authorization, so that a caller the policies
 * refuse learns nothing of the methods, and before rate limits and admission, so that an unknown method costs
 * neither budget nor a place in the queue.
 */
export const routeCheck: ServerInterceptor = (next) => (call) => {
  call.route();
  call.routed = true;
  return next(call);
};

/**
 * Authorizes calls with `check` (which throws a MeshError to refuse, e.g. PERMISSION_DENIED), told the verified
 * caller, the method as policies name it and the kind of call.
 */
export function authorization(
  check: (caller: ServerCall['caller'], method: string, kind: ServerCall['kind']) => void,
): ServerInterceptor {
  return (next) => (call) => {
    check(call.caller, call.method, call.kind);
    return next(call);
  };
}

/**
 * Before the policies: waits, once per caller, until the agent's view of the registry holds the caller's record
 * (`know` returns undefined when it does, or when there is nothing to wait for), so that the caller is known by
 * the type it registered as from its first call on.
 */
export function knownCallers(
  know: (caller: ServerCall['caller']) => Promise<void> | undefined,
): ServerInterceptor {
  return (next) => (call) => {
    const waiting = know(call.caller);
    return waiting ? waiting.then(() => next(call)) : next(call);
  };
}

/**
 * What every chain of an agent's calls starts with, in this order: the server span and measurement, the arrival
 * checks (a deadline already passed, the hop limit), and the call context for everything after.
 */
export function arrivalInterceptors(
  options: TracingOptions & { hopLimit?: number | undefined },
): ServerInterceptor[] {
  return [tracing(options), arrivalDeadline, hopLimit(options.hopLimit), callContext];
}
