import type { Attributes } from '@opentelemetry/api';
import type { AgentRecord } from '../core/agent-record.js';
import { CONTEXT_KEYS, newTraceparent, outboundContext, type CallContext } from '../core/call-context.js';
import type { MeshError } from '../core/errors.js';
import { SpanKind, endSpan, startSpan, traceparentOf } from '../observability/tracing.js';
import type { TargetQuery } from './endpoint-cache.js';

/**
 * One outbound call as the client's interceptors see it, generic or typed, unary or streamed: where it goes, its
 * deadline, the context it carries and the headers it will be sent with.
 */
export interface ClientCall {
  readonly query: TargetQuery;
  /** The method: a generic method's name, or `<package.Service>/<Method>` for a typed call. */
  readonly method: string;
  /** The gRPC service (`agentmesh.v1.Agent` for generic calls). */
  readonly service: string;
  /** In ms since the epoch; Infinity when the call has none. */
  readonly deadline: number;
  /** The context of the call being handled when this one was made, if any. */
  readonly parent: CallContext | undefined;
  /** What the call starts or overrides in the context it carries. */
  readonly starts: { conversationId?: string; tenant?: string; priority?: string };
  /** The headers the call is sent with (interceptors add theirs). */
  readonly headers: Record<string, string>;
  /** The trace parent of the call's own span, when it records one. */
  traceparent?: string;
  /** Told before each attempt, with the instance it goes to. */
  onAttempt?: (callee: AgentRecord, attempt: number) => void;
}

/** What a call's handler answers: the value, who gave it after how many attempts, and when the call ended. */
export interface ClientAnswer<T> {
  value: T;
  agent: AgentRecord;
  attempts: number;
  /** Settles when the call ended at its instance (at once for a unary call): with the error it ended with, if any. */
  ended: Promise<MeshError | undefined>;
}

/** Runs a call (the attempt loop, at the end of the chain). */
export type ClientHandler<T> = (call: ClientCall) => Promise<ClientAnswer<T>>;

/** Wraps a handler: code before the call, and after it through the answer (or the error thrown). */
export type ClientInterceptor = <T>(next: ClientHandler<T>) => ClientHandler<T>;

/** A unary call's `ended`: it ended with its answer. */
export const ENDED: Promise<MeshError | undefined> = Promise.resolve(undefined);

/** The interceptors in order, the first outermost, around `handler`. */
export function composeClient<T>(
  interceptors: readonly ClientInterceptor[],
  handler: ClientHandler<T>,
): ClientHandler<T> {
  let next = handler;
  for (let i = interceptors.length - 1; i >= 0; i -= 1) next = interceptors[i]!(next);
  return next;
}

/**
 * The deadline of an outbound call: its own, else (for a unary or client-streaming call) the default timeout from
 * now, never later than the deadline of the call being handled: a call cannot outlive the call that caused it.
 */
export function callDeadline(
  own: number | undefined,
  defaultTimeoutMs: number | undefined,
  parent: CallContext | undefined,
): number {
  return Math.min(
    own ?? (defaultTimeoutMs === undefined ? Infinity : Date.now() + defaultTimeoutMs),
    parent?.deadline ?? Infinity,
  );
}

/**
 * Traces each call in a client span named by the callee type and method (e.g. `summarizer/summarize`), a child of
 * the call context, with the instance and attempt of each try; the span ends when the call does.
 */
export const tracing: ClientInterceptor = (next) => (call) => {
  const { query, method } = call;
  const span = startSpan(SpanKind.CLIENT, () => ({
    name: `${query.type ?? (query.skill ? 'tool' : 'agent')}/${method}`,
    attributes: {
      'rpc.system': 'grpc',
      'rpc.service': call.service,
      'agentmesh.method': method,
      ...(query.type ? { 'agentmesh.callee.type': query.type } : {}),
    },
    parentTraceparent: call.parent?.traceparent,
  }));
  let running: ReturnType<typeof next>;
  try {
    if (span.isRecording()) {
      call.traceparent = traceparentOf(span);
      call.onAttempt = (record, attempt) => span.setAttributes(calleeAttributes(record, attempt));
    }
    running = next(call);
  } catch (error) {
    // The inner interceptors refuse synchronously (the hop limit): the call's promise rejects all the same.
    endSpan(span, error as MeshError);
    return Promise.reject(error as Error);
  }
  // Without a tracer provider the span records nothing: the call goes on as it is, with no promise of its own.
  if (!span.isRecording()) return running;
  return running.then(
    (answer) => {
      void answer.ended.then((error) => endSpan(span, error));
      return answer;
    },
    (error: unknown) => {
      endSpan(span, error as MeshError);
      throw error;
    },
  );
};

/**
 * Gives each call the context it carries (trace, conversation, tenant, priority, caller chain) and its absolute
 * deadline in headers. A call that starts a chain sends only its trace and deadline: the callee starts the chain
 * from the verified certificate.
 * @throws MeshError FAILED_PRECONDITION at the hop limit (a call loop).
 */
export function outboundHeaders(self: string, hopLimit: number | undefined): ClientInterceptor {
  return (next) => (call) => {
    const { parent, starts, headers } = call;
    const context: CallContext | undefined =
      starts.conversationId || starts.tenant || starts.priority
        ? {
            chain: [],
            ...parent,
            ...(starts.conversationId ? { conversationId: starts.conversationId } : {}),
            ...(starts.tenant ? { tenant: starts.tenant } : {}),
            ...(starts.priority ? { priority: starts.priority } : {}),
          }
        : parent;
    // The deadline in absolute time too: grpc-timeout is relative, so a request that waited in a socket buffer
    // (its callee stopped, then resumed) would get its whole timeout again on arrival and run long after we gave up.
    if (Number.isFinite(call.deadline)) headers[CONTEXT_KEYS.deadline] = String(Math.floor(call.deadline));
    if (!context) {
      // A call that starts a chain starts its trace here, so that the caller knows the trace id its callee logs.
      headers[CONTEXT_KEYS.traceparent] = call.traceparent ?? newTraceparent();
      return next(call);
    }
    Object.assign(headers, outboundContext(self, context, hopLimit));
    // A recorded client span is the parent of the callee's span.
    if (call.traceparent) headers[CONTEXT_KEYS.traceparent] = call.traceparent;
    return next(call);
  };
}

/** The W3C trace id a call travels under, from its headers. */
export function traceIdOf(headers: Record<string, string>): string {
  const traceparent = headers[CONTEXT_KEYS.traceparent];
  // 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>
  return traceparent?.[2] === '-' && traceparent[35] === '-' ? traceparent.slice(3, 35) : '';
}

function calleeAttributes(record: AgentRecord, attempts: number): Attributes {
  return {
    'agentmesh.callee.id': record.id,
    'agentmesh.callee.type': record.spec.type,
    'server.address': record.spec.endpoint,
    'agentmesh.attempts': attempts,
  };
}
