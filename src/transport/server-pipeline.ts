import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import {
  CONTEXT_KEYS,
  checkHopLimit,
  contextFromMetadata,
  deadlineFromMetadata,
  newTraceparent,
  runWithContext,
  type CallContext,
} from '../core/call-context.js';
import { Code, MeshError } from '../core/errors.js';
import { priorityClass, type PriorityClass } from '../core/priority.js';
import {
  checkArrivalDeadline,
  type CallEnded,
  type ServerCall,
  type ServerCallKind,
  type ServerHandler,
  type ServerInterceptor,
} from '../core/server-call.js';
import type { Logger } from '../observability/logger.js';
import { peerIdentity } from './credentials.js';
import type { MeshIdentity, VerifiedPeer } from './mesh-identity.js';
import { mapHandlers, type ServiceRegistration } from './server.js';
import { toServiceError } from './status.js';
import { callGone, pumpToCall } from './stream-pump.js';

/** The trailer that reports the tokens an answer used. */
export const TOKENS_TRAILER = 'x-agentmesh-tokens';

/** What every server handler of an agent is told about an incoming call, generic or typed. */
export interface IncomingCall {
  getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null;
  getDeadline(): grpc.Deadline;
  metadata: grpc.Metadata;
}

/** What a call says about itself on arrival: its verified caller, its deadline and the context it carries. */
export interface IncomingFacts {
  caller: VerifiedPeer;
  /** In ms since the epoch; Infinity when the caller set none. */
  deadline: number;
  context: CallContext;
}

/**
 * Reads an incoming call: the caller's verified identity, its deadline (Infinity when none), and the propagated
 * context. The chain always ends with the verified caller: it starts with it when the caller sent none (the first
 * hop sends no metadata), and it is appended when the chain sent ends with someone else (a forged or foreign
 * chain), so a handler never mistakes a claimed caller for the real one. The deadline is the earlier of gRPC's
 * (relative, counted from arrival) and the absolute one a mesh caller sends. Checks nothing else: the server
 * pipeline's interceptors do.
 * @throws MeshError UNAUTHENTICATED without a verified caller.
 */
export function readCall(call: IncomingCall, identity: MeshIdentity): IncomingFacts {
  const caller = peerIdentity(call, identity);
  const raw = call.getDeadline();
  // The headers read once (each `Metadata.get` normalizes and validates its key).
  const headers = call.metadata.getMap();
  const header = (key: string) => headers[key]?.toString();
  const sent = deadlineFromMetadata(header(CONTEXT_KEYS.deadline));
  const deadline = Math.min(raw instanceof Date ? raw.getTime() : raw, sent ?? Infinity);
  const context = contextFromMetadata(header);
  if (Number.isFinite(deadline)) context.deadline = deadline;
  if (context.chain.at(-1) !== caller.uri) context.chain.push(caller.uri);
  return { caller, deadline, context };
}

/**
 * {@link readCall} with the arrival checks of the server pipeline, for a handler served outside it: the call
 * starts a trace when it carries none.
 * @throws MeshError UNAUTHENTICATED without a verified caller, DEADLINE_EXCEEDED when the caller's deadline has
 * passed already (the call never starts), FAILED_PRECONDITION for a chain longer than `hopLimit` (a call loop).
 */
export function readIncomingCall(
  call: IncomingCall,
  identity: MeshIdentity,
  hopLimit?: number,
): IncomingFacts {
  const facts = readCall(call, identity);
  checkArrivalDeadline(facts.deadline);
  facts.context.traceparent ??= newTraceparent();
  checkHopLimit(facts.context.chain, hopLimit);
  return facts;
}

/** Where a call goes, as known before the pipeline runs (see {@link ServerCall}). */
export interface CallTarget {
  service: string;
  method: string;
  known: boolean;
  /** The route check; none: the method exists (a typed one, served by grpc-js only when it does). */
  route?: () => void;
}

/** What the adapter serves every call with. */
export interface PipelineOptions {
  identity: MeshIdentity;
  /** Where unexpected errors (bugs) are logged before they leave as UNKNOWN. */
  logger: Logger;
  /** The composed server interceptors (see `composeServerInterceptors`) every call passes through. */
  pipeline: ServerInterceptor;
}

/** What the adapter uses of any grpc-js server call, whatever its shape. */
type AnyCall = IncomingCall & NodeJS.EventEmitter & { readonly cancelled: boolean };

type Writable = grpc.ServerWritableStream<unknown, unknown>;

const noRoute = (): void => undefined;

/** A wire call as the pipeline sees it; the innermost handlers reach the gRPC call through it. */
class WireCall implements ServerCall {
  readonly service: string;
  readonly method: string;
  readonly caller: VerifiedPeer;
  readonly deadline: number;
  readonly context: CallContext;
  readonly known: boolean;
  readonly route: () => void;
  routed = false;
  priority: PriorityClass;
  tokens = 0;
  /** Whether an answer (a response or a status) went out: the edge then sends nothing more. */
  answered = false;
  /**
   * For a streamed answer: settles when the call ends early (the caller cancelled, or the stream closed or
   * failed), from its arrival on, so that a call that went away while it waited in the queue is seen too.
   */
  readonly gone: Promise<'gone'> | undefined;
  private controller: AbortController | undefined;
  private endings: CallEnded[] | undefined;

  constructor(
    readonly wire: AnyCall,
    readonly kind: ServerCallKind,
    /** What the method's adapter knew of the call before the pipeline (see {@link unaryMethod}). */
    readonly target: CallTarget,
    facts: IncomingFacts,
    /** The answer of a unary or client-streaming call. */
    readonly callback: grpc.sendUnaryData<unknown> | undefined,
  ) {
    this.service = target.service;
    this.method = target.method;
    this.known = target.known;
    this.route = target.route ?? noRoute;
    this.caller = facts.caller;
    this.deadline = facts.deadline;
    this.context = facts.context;
    this.priority = priorityClass(facts.context.priority);
    this.gone = callback ? undefined : callGone(wire as unknown as Writable);
  }

  // Made when first asked for (a call waiting in the agent's queue): most calls never need one.
  get signal(): AbortSignal {
    if (!this.controller) {
      const controller = (this.controller = new AbortController());
      if (this.wire.cancelled) controller.abort();
      else this.wire.once('cancelled', () => controller.abort());
    }
    return this.controller.signal;
  }

  onEnded(ended: CallEnded): void {
    (this.endings ??= []).push(ended);
  }

  /**
   * Runs the endings, innermost first, each even when one before it threw (a bug, such as a metric that cannot be
   * recorded); returns what the first that threw threw.
   */
  end(failed: boolean, error: unknown): { thrown: unknown } | undefined {
    const endings = this.endings;
    if (!endings) return undefined;
    this.endings = undefined;
    let bug: { thrown: unknown } | undefined;
    for (let i = endings.length - 1; i >= 0; i -= 1) {
      try {
        endings[i]!(failed, error);
      } catch (thrown) {
        bug ??= { thrown };
      }
    }
    return bug;
  }
}

/** A method's innermost handler, which reaches the wire call. */
type Innermost = (call: WireCall) => Promise<void>;

/**
 * Answers a call that failed with the status of `error` (via {@link toServiceError}), unless an answer went out
 * already.
 */
function fail(
  logger: Logger,
  wire: AnyCall,
  callback: grpc.sendUnaryData<unknown> | undefined,
  error: unknown,
  call?: WireCall,
): void {
  if (call?.answered) return;
  if (call) call.answered = true;
  if (callback) return callback(toServiceError(error, logger));
  // A stream whose caller went away has no one to tell.
  if (wire.cancelled) (wire as unknown as Writable).end();
  else wire.emit('error', toServiceError(error, logger));
}

/**
 * The one edge between grpc-js and the pipeline: wraps a method's innermost handler in the pipeline (once), and
 * returns what serves each call of it: reads the call (caller, deadline, context), runs the pipeline, runs the
 * interceptors' endings once it settled (see {@link ServerCall.onEnded}), and answers once with the status of
 * what it threw, unless an answer went out already.
 */
function edge(
  options: PipelineOptions,
  kind: ServerCallKind,
  innermost: Innermost,
): (wire: AnyCall, target: CallTarget, callback?: grpc.sendUnaryData<unknown>) => void {
  const handle = options.pipeline(innermost as ServerHandler);
  const { logger } = options;
  return (wire, target, callback) => {
    let call: WireCall;
    try {
      call = new WireCall(wire, kind, target, readCall(wire, options.identity), callback);
    } catch (error) {
      // No verified caller: the transport's peer check refuses such calls before any handler, so this is a
      // trust bundle that changed in between.
      fail(logger, wire, callback, error);
      return;
    }
    const settled = (failed: boolean, error: unknown) => {
      const bug = call.end(failed, error);
      if (bug && !failed) [failed, error] = [true, bug.thrown];
      // A failure is logged (when unexpected) in the call's context: the log line carries its trace and caller.
      if (failed) runWithContext(call.context, fail, logger, wire, callback, error, call);
    };
    let running: Promise<void>;
    try {
      running = handle(call);
    } catch (error) {
      settled(true, error);
      return;
    }
    running.then(
      () => settled(false, undefined),
      (error: unknown) => settled(true, error),
    );
  };
}

/**
 * A grpc-js handler for a generic unary method: `answer` produces the response once the pipeline let the call
 * through; the tokens it reports are the call's (see {@link ServerCall.tokens}) and go out in the
 * {@link TOKENS_TRAILER}.
 */
export function unaryMethod<Req, Res, T extends CallTarget>(
  options: PipelineOptions,
  targetOf: (request: Req) => T,
  answer: (request: Req, call: ServerCall, target: T) => Promise<Res & { tokens?: number }>,
): grpc.handleUnaryCall<Req, Res> {
  const serve = edge(options, 'unary', (call) => {
    const request = (call.wire as unknown as grpc.ServerUnaryCall<Req, Res>).request;
    return answer(request, call, call.target as T).then((result) => {
      call.answered = true;
      const { tokens } = result;
      // The response's own fields are serialized; `tokens` is not one of them, and goes out as a trailer.
      if (!(tokens !== undefined && tokens > 0)) return call.callback!(null, result);
      call.tokens = tokens;
      const trailer = new grpc.Metadata();
      trailer.set(TOKENS_TRAILER, String(Math.round(tokens)));
      call.callback!(null, result, trailer);
    });
  });
  return (wire, callback) => serve(wire, targetOf(wire.request), callback as grpc.sendUnaryData<unknown>);
}

/**
 * A grpc-js handler for a generic server-streaming method: `answer` produces the chunks, each written as soon as
 * it comes (with backpressure, see {@link pumpToCall}); the tokens the chunks report add up to the call's.
 */
export function streamMethod<Req, Res, T extends CallTarget>(
  options: PipelineOptions,
  targetOf: (request: Req) => T,
  answer: (request: Req, call: ServerCall, target: T) => AsyncIterable<Res & { tokens?: number }>,
): grpc.handleServerStreamingCall<Req, Res> {
  const serve = edge(options, 'stream', async (call) => {
    const wire = call.wire as unknown as grpc.ServerWritableStream<Req, Res>;
    await pumpToCall(counted(answer(wire.request, call, call.target as T), call), wire, call.gone);
    if (wire.cancelled) throw new MeshError(Code.CANCELLED, 'the caller cancelled the stream');
    call.answered = true;
    wire.end();
  });
  return (wire) => serve(wire, targetOf(wire.request));
}

/** The chunks of a streamed answer, adding the tokens each reports to the call's. */
async function* counted<T extends { tokens?: number }>(chunks: AsyncIterable<T>, call: ServerCall) {
  for await (const chunk of chunks) {
    if (chunk.tokens !== undefined && chunk.tokens > 0) call.tokens += chunk.tokens;
    yield chunk;
  }
}

/** How a grpc-js method takes its request and gives its answer. */
export interface MethodShape {
  requestStream: boolean;
  responseStream: boolean;
}

/**
 * Any grpc-js server handler (unary, client-, server- or bidi-streaming) served through the pipeline: the
 * handler itself answers, and the call ends, for the interceptors, when its answer (a response or a status) went
 * out, its stream finished, or its caller went away. A status the handler sends is the call's outcome; what it
 * throws, or what the pipeline refused with, is answered at the edge. Handlers that read the priority from the
 * metadata see the class the call runs at, not the caller's claim.
 */
export function interceptedHandler(
  options: PipelineOptions,
  target: CallTarget,
  shape: MethodShape,
  handler: grpc.UntypedHandleCall,
  kind: ServerCallKind = shape.responseStream ? 'stream' : 'unary',
): grpc.UntypedHandleCall {
  const serve = edge(
    options,
    kind,
    (call) =>
      new Promise<void>((resolve, reject) => {
        const { wire, callback } = call;
        if (wire.metadata.get(CONTEXT_KEYS.priority).length > 0) {
          wire.metadata.set(CONTEXT_KEYS.priority, call.priority);
        }
        const outcome = (status: Partial<grpc.StatusObject> | null | undefined) => {
          call.answered = true;
          if (!status || status.code === undefined || status.code === grpc.status.OK) resolve();
          else reject(new MeshError(status.code as number as Code, status.details ?? ''));
        };
        wire.once('cancelled', () => {
          call.answered = true; // nobody to answer; the handler's own answer, if it comes, goes nowhere
          reject(new MeshError(Code.CANCELLED, 'the caller went away'));
        });
        let answer: grpc.sendUnaryData<unknown> | undefined;
        if (callback) {
          answer = (error, ...rest) => {
            outcome(error && { code: error.code ?? grpc.status.UNKNOWN, details: error.details ?? '' });
            callback(error, ...rest);
          };
        } else {
          wire.once('error', (status: Partial<grpc.StatusObject>) => outcome(status));
          for (const event of ['finish', 'close']) wire.once(event, () => outcome(undefined));
        }
        (handler as (wire: AnyCall, callback?: grpc.sendUnaryData<unknown>) => void)(wire, answer);
      }),
  );
  return ((wire: AnyCall, callback?: grpc.sendUnaryData<unknown>) =>
    serve(wire, target, shape.responseStream ? undefined : callback)) as grpc.UntypedHandleCall;
}

/**
 * A user's typed service with every method served through the pipeline; policies name its methods
 * `<package.Service>/<Method>`.
 */
export function interceptService(
  service: ServiceRegistration,
  options: PipelineOptions,
): ServiceRegistration {
  const implementation = mapHandlers(
    service.definition,
    service.implementation,
    (definition, handler, name) =>
      interceptedHandler(
        options,
        { service: service.name, method: `${service.name}/${name}`, known: true },
        definition,
        handler,
      ),
  );
  return { ...service, implementation, verifiesPeers: true };
}
