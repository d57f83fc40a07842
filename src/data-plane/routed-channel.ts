import * as grpc from '@grpc/grpc-js';
import { currentContext } from '../core/call-context.js';
import { Code, MeshError } from '../core/errors.js';
import { parseLabelSelector } from '../core/label-selector.js';
import type { AttemptOutcome, SendProbe } from '../transport/agent-connection.js';
import { createChannelCredentials } from '../transport/credentials.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import type { AttemptLoop, AttemptPlan } from './attempt-loop.js';
import { callDeadline, type ClientAnswer, type ClientCall, type ClientHandler } from './client-pipeline.js';
import type { EndpointCache, TargetQuery } from './endpoint-cache.js';
import type { Member } from './endpoint-pool.js';
import type { BalancerName } from './load-balancer.js';

/** A grpc-js call as a channel makes it: start, messages, half-close, reads, cancel. */
type LowCall = ReturnType<grpc.ChannelInterface['createCall']>;

/** How much of a client-streaming request is kept to send again to another instance (beyond it: no failover). */
const MAX_REPLAY_BYTES = 1024 * 1024;

/** Options of a typed channel (see `MeshClient.channel`). */
export interface TypedChannelOptions {
  /** Strategy for its calls (default `round-robin`). */
  balancer?: BalancerName;
  /** Consistent-hashing key, for `consistent-hash`. */
  key?: string;
  /** Its calls may run twice without harm: they fail over even after reaching a handler. */
  idempotent?: boolean;
  /** Deadline of a unary or client-streaming call that sets none, in ms (default: the mesh client's, 10 s). */
  defaultTimeoutMs?: number;
}

/** What a typed client is built with: `new Service(target, credentials, options)`. */
export interface TypedChannel {
  target: string;
  credentials: grpc.ChannelCredentials;
  options: grpc.ClientOptions;
}

/** What a routed channel needs of its mesh client: its interceptors and its attempt loop. */
export interface Router {
  defaultTimeoutMs: number;
  begin(method: string, service: string, deadline: number, balancer: BalancerName): ClientCall;
  plan(call: ClientCall, options: TypedChannelOptions): AttemptPlan;
  run<T>(call: ClientCall, handler: ClientHandler<T>): Promise<ClientAnswer<T>>;
  loop: AttemptLoop;
}

/**
 * The channel of a typed client routed by the mesh (grpc-js's `channelOverride`): each call it makes runs through
 * the mesh client's interceptors and its attempt loop, over the connection of the instance picked for each attempt.
 * A call is committed to an instance once it answers (headers or a message); until then it may move to another,
 * with its request messages sent again.
 */
export class RoutedChannel implements grpc.ChannelInterface {
  private closed = false;
  private calls = 0;

  private constructor(
    private readonly cache: EndpointCache,
    private readonly query: TargetQuery,
    private readonly options: TypedChannelOptions,
    private readonly router: Router,
  ) {}

  /** What else closes with the typed client (the mesh client of its own that `meshChannel` made for it). */
  private owned: { close(): void } | undefined;

  /** Makes `owner` close when the typed client built on `channel` is closed. */
  static closeWith(channel: TypedChannel, owner: { close(): void }): void {
    const routed = channel.options.channelOverride;
    if (routed instanceof RoutedChannel) routed.owned = owner;
  }

  /**
   * A typed channel for `query` (see `MeshClient.channel`).
   * @throws MeshError INVALID_ARGUMENT for an invalid label selector.
   */
  static create(
    identity: MeshIdentity,
    cache: EndpointCache,
    query: TargetQuery,
    options: TypedChannelOptions,
    router: Router,
  ): TypedChannel {
    if (query.labelSelector) {
      const selector = parseLabelSelector(query.labelSelector);
      if (!selector.ok) throw selector.error;
    }
    const channel = new RoutedChannel(cache, query, options, router);
    // Follow the query's agents from now on, not only from the first call.
    void cache.cover(query);
    const defaultTimeoutMs = options.defaultTimeoutMs ?? router.defaultTimeoutMs;
    return {
      target: channel.getTarget(),
      // Unused by a client built with the options (the channel override makes its connections, one per instance,
      // each checking that instance's SPIFFE ID); a client built without them still talks only to these agents.
      credentials: createChannelCredentials(identity, (peer) =>
        cache.select(query).some((agent) => agent.spiffeId === peer.uri),
      ),
      options: { channelOverride: channel, interceptors: [deadlineInterceptor(defaultTimeoutMs)] },
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.owned?.close();
  }

  getTarget(): string {
    return `agentmesh:///${encodeURIComponent(this.query.type ?? 'any')}`;
  }

  /** READY while the query has healthy agents (connections are the instances' own). */
  getConnectivityState(): grpc.connectivityState {
    if (this.closed) return grpc.connectivityState.SHUTDOWN;
    return this.cache.select(this.query).length > 0
      ? grpc.connectivityState.READY
      : grpc.connectivityState.TRANSIENT_FAILURE;
  }

  watchConnectivityState(
    current: grpc.connectivityState,
    deadline: Date | number,
    callback: (error?: Error) => void,
  ): void {
    const until = deadline instanceof Date ? deadline.getTime() : deadline;
    const stop = this.cache.onChange(() => {
      if (this.getConnectivityState() === current) return;
      stop();
      clearTimeout(timer);
      callback();
    });
    const timer = Number.isFinite(until)
      ? setTimeout(
          () => {
            stop();
            callback(new Error('Deadline passed without connectivity state change'));
          },
          Math.max(0, until - Date.now()),
        )
      : undefined;
  }

  getChannelzRef(): ReturnType<grpc.ChannelInterface['getChannelzRef']> {
    return { kind: 'channel', id: 0, name: this.getTarget() } as unknown as ReturnType<
      grpc.ChannelInterface['getChannelzRef']
    >;
  }

  createCall(
    method: string,
    deadline: grpc.Deadline,
    host: string | null | undefined,
    parentCall: unknown,
    propagateFlags: number | null | undefined,
  ): LowCall {
    this.calls += 1;
    const child = (channel: grpc.Channel) =>
      channel.createCall(method, deadline, host, parentCall as null, propagateFlags);
    return new RoutedCall(this.calls, method, deadline, child, this.closed, this.router, this.options);
  }
}

/**
 * A grpc-js interceptor giving a typed call its deadline: its own, else for a unary or client-streaming call the
 * default timeout, never later than that of the call being handled (see {@link callDeadline}).
 */
function deadlineInterceptor(defaultTimeoutMs: number): grpc.Interceptor {
  return (callOptions, nextCall) => {
    const own = callOptions.deadline instanceof Date ? callOptions.deadline.getTime() : callOptions.deadline;
    const streamed = callOptions.method_definition.responseStream;
    const deadline = callDeadline(own, streamed ? undefined : defaultTimeoutMs, currentContext());
    return new grpc.InterceptingCall(
      nextCall(Number.isFinite(deadline) ? { ...callOptions, deadline } : callOptions),
    );
  };
}

/** One typed call routed through the attempt loop, committed to the instance that answers first. */
class RoutedCall implements LowCall {
  private listener: grpc.InterceptingListener | undefined;
  /** The request messages sent so far (until committed), to send again to another instance. */
  private readonly sent: Array<{ message: Buffer; callback: (() => void) | undefined }> = [];
  private sentBytes = 0;
  private halfClosed = false;
  private readPending = false;
  private child: LowCall | undefined;
  private committed = false;
  private cancelled = false;
  private done = false;
  private credentials: grpc.CallCredentials | undefined;
  /** The committed call's end at its instance, once both are known. */
  private finishAttempt: ((error?: MeshError) => void) | undefined;
  private endStatus: grpc.StatusObject | undefined;
  private end: ((error: MeshError | undefined) => void) | undefined;

  constructor(
    private readonly number: number,
    private readonly path: string,
    private readonly deadline: grpc.Deadline,
    private readonly createChild: (channel: grpc.Channel) => LowCall,
    private readonly closed: boolean,
    private readonly router: Router,
    private readonly options: TypedChannelOptions,
  ) {}

  start(metadata: grpc.Metadata, listener: grpc.InterceptingListener): void {
    this.listener = listener;
    if (this.closed) {
      this.fail(new MeshError(Code.FAILED_PRECONDITION, 'this typed client is closed: create a new one'));
      return;
    }
    const service = this.path.slice(1, this.path.lastIndexOf('/'));
    let call: ClientCall;
    let plan: AttemptPlan;
    try {
      const deadline = this.deadline instanceof Date ? this.deadline.getTime() : this.deadline;
      const balancer = this.options.balancer ?? 'round-robin';
      call = this.router.begin(this.path.slice(1), service, deadline, balancer);
      plan = this.router.plan(call, { ...this.options, balancer });
    } catch (error) {
      this.fail(error);
      return;
    }
    this.router
      .run(call, async () => {
        const committed = await this.router.loop.run(plan, (member, probe) =>
          this.attempt(member, probe, metadata, call.headers),
        );
        const ended = new Promise<MeshError | undefined>((resolve) => (this.end = resolve));
        this.finishAttempt = committed.finish;
        this.settle();
        return {
          value: committed.value,
          agent: committed.member.record,
          attempts: committed.attempts,
          ended,
        };
      })
      .catch((error: unknown) => this.fail(error));
  }

  sendMessageWithContext(context: { callback?: (error?: Error | null) => void }, message: Buffer): void {
    if (this.committed) return this.child!.sendMessageWithContext(context, message);
    const callback = context.callback ? () => context.callback!() : undefined;
    this.sentBytes += message.length;
    if (this.sentBytes <= MAX_REPLAY_BYTES || !this.child) {
      // Kept to send again; acknowledged at once while within the bound, else when an attempt takes it.
      this.sent.push({ message, callback: this.sentBytes <= MAX_REPLAY_BYTES ? undefined : callback });
      this.child?.sendMessageWithContext({}, message);
      if (this.sentBytes <= MAX_REPLAY_BYTES) callback?.();
      return;
    }
    this.child.sendMessageWithContext(context, message);
  }

  startRead(): void {
    this.readPending = true;
    this.child?.startRead();
  }

  halfClose(): void {
    this.halfClosed = true;
    this.child?.halfClose();
  }

  cancelWithStatus(status: grpc.status, details: string): void {
    this.cancelled = true;
    if (this.child) this.child.cancelWithStatus(status, details);
    else this.fail(new MeshError(status as Code, details));
  }

  getPeer(): string {
    return this.child?.getPeer() ?? 'agentmesh';
  }

  getCallNumber(): number {
    return this.number;
  }

  setCredentials(credentials: grpc.CallCredentials): void {
    this.credentials = credentials;
    this.child?.setCredentials(credentials);
  }

  getAuthContext(): ReturnType<LowCall['getAuthContext']> {
    return this.child?.getAuthContext() ?? null;
  }

  /** One attempt at `member`: settled when it answers (committed) or fails before answering. */
  private attempt(
    member: Member,
    probe: SendProbe,
    metadata: grpc.Metadata,
    headers: Record<string, string>,
  ): Promise<AttemptOutcome<LowCall>> {
    if (this.cancelled) throw new MeshError(Code.CANCELLED, 'the call was cancelled');
    const child = this.createChild(member.connection.channel);
    if (this.credentials) child.setCredentials(this.credentials);
    this.child = child;
    const outgoing = metadata.clone();
    for (const key in headers) outgoing.set(key, headers[key]!);
    return new Promise((resolve) => {
      let heard = false;
      let settled = false;
      const commit = () => {
        if (settled) return;
        settled = true;
        this.committed = true;
        // What was kept to send again is no longer needed; acknowledge what waited for an attempt.
        for (const { callback } of this.sent.splice(0)) callback?.();
        resolve({ ok: true, value: child });
      };
      child.start(outgoing, {
        onReceiveMetadata: (received) => {
          heard = true;
          commit();
          this.listener!.onReceiveMetadata(received);
        },
        onReceiveMessage: (message) => {
          commit();
          this.readPending = false;
          this.listener!.onReceiveMessage(message);
        },
        onReceiveStatus: (status) => {
          if (!settled && status.code !== grpc.status.OK) {
            settled = true;
            const failure = member.connection.failure(status, heard, probe);
            // A request too long to keep, or a call its caller cancelled, goes nowhere else.
            const final = this.cancelled || this.sentBytes > MAX_REPLAY_BYTES;
            resolve({ ok: false, ...failure, ...(final ? { final } : {}) });
            return;
          }
          commit();
          this.endStatus = status;
          this.settle();
        },
      });
      for (const { message } of this.sent) child.sendMessageWithContext({}, message);
      if (this.halfClosed) child.halfClose();
      if (this.readPending) child.startRead();
    });
  }

  /** Ends the committed attempt and the call once its status arrived: the status goes to the caller. */
  private settle(): void {
    if (!this.finishAttempt || !this.endStatus || this.done) return;
    this.done = true;
    const status = this.endStatus;
    const error =
      status.code === grpc.status.OK
        ? undefined
        : new MeshError(status.code as Code, status.details, { cause: status });
    this.finishAttempt(error);
    this.end?.(error);
    this.listener!.onReceiveStatus(status);
  }

  /** The call failed before any instance took it: its status goes to the caller. */
  private fail(error: unknown): void {
    if (this.done) return;
    this.done = true;
    const mesh = MeshError.from(error);
    const cause = mesh.cause as Partial<grpc.StatusObject> | undefined;
    this.listener?.onReceiveStatus({
      code: mesh.code as number as grpc.status,
      details: mesh.message,
      metadata: cause?.metadata instanceof grpc.Metadata ? cause.metadata : new grpc.Metadata(),
    });
  }
}
