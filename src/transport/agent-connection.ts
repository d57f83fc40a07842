import * as grpc from '@grpc/grpc-js';
import { Code, MeshError } from '../core/errors.js';
import type { AgentClient } from '../generated/agentmesh/v1/Agent.js';
import { MESH_CHANNEL_OPTIONS, createChannelCredentials } from './credentials.js';
import type { MeshIdentity } from './mesh-identity.js';
import { loadMeshProtos } from './protos.js';
import { fromServiceError, statusFromServer } from './status.js';
import { unaryCall } from './unary-call.js';

/** A generic call's request: the method and the payload with its media type. */
export interface InvokeRequest {
  method: string;
  payload: Buffer;
  contentType: string;
}

/** A generic call's answer, or one chunk of a streamed one. */
export interface InvokeAnswer {
  payload: Buffer;
  contentType: string;
}

/**
 * Why an attempt failed, in the structured signals the retry decision needs, never in the status text: whether
 * the server answered at all (response headers, or a status carrying the server's trailers), and whether the
 * request can have been sent (its channel was or became READY while the attempt ran).
 */
export interface AttemptFailure {
  error: MeshError;
  /** The server answered: headers arrived, or the status carries its trailers (a status grpc-js made has none). */
  answered: boolean;
  /** The status carries the server's trailers: the server sent it, rather than grpc-js after a reset or a cut. */
  serverStatus: boolean;
  /** The request certainly never left this process: no connection was ready while the attempt ran. */
  neverSent: boolean;
  /** The failure ends the call whatever the policy: neither retried nor counted against the instance. */
  final?: boolean;
}

/** How one attempt ended: its value, or why not. */
export type AttemptOutcome<T> = { ok: true; value: T } | ({ ok: false } & AttemptFailure);

/** A streamed answer whose first chunk (or its end) arrived: that, the rest, and how to stop it early. */
export interface OpenStream {
  first: IteratorResult<InvokeAnswer>;
  /** The following chunks; throws the stream's failure as a MeshError. */
  next(): Promise<IteratorResult<InvokeAnswer>>;
  /** Stops the stream (a no-op once it ended). */
  cancel(): void;
  /** Whether the stream failed because the agent sent nothing for the idle timeout. */
  readonly idledOut: boolean;
}

/** A snapshot of a connection as an attempt starts: whether its request could have been sent by the time it failed. */
export interface SendProbe {
  ready: boolean;
  epoch: number;
}

/** The generic unary method, as the channel calls it: its path and its message codecs (the protos load once). */
function invokeDefinition(): grpc.MethodDefinition<InvokeRequest, InvokeAnswer> {
  return loadMeshProtos().protos.agentmesh.v1.Agent.service.Invoke as grpc.MethodDefinition<
    InvokeRequest,
    InvokeAnswer
  >;
}

/**
 * One mTLS channel to one agent instance, checking its registered SPIFFE ID, and the calls on it. It says how each
 * attempt ended in structured signals ({@link AttemptFailure}) and whether it has lost its connection; a retired
 * connection (its instance moved, or our certificate was renewed) closes once its last call ends.
 */
export class AgentConnection {
  readonly client: AgentClient;
  /** Calls on the channel now. */
  active = 0;
  private retired = false;
  private closed = false;
  /** Whether the channel was ever seen READY: one that was, and is not now, has lost its connection. */
  private readonly seen = { connected: false };
  /** How many times the channel became READY: a request can only leave on a ready connection. */
  private readyEpoch = 0;

  constructor(endpoint: string, identity: MeshIdentity, spiffeId: string) {
    const { protos } = loadMeshProtos();
    this.client = new protos.agentmesh.v1.Agent(
      endpoint,
      createChannelCredentials(identity, spiffeId),
      MESH_CHANNEL_OPTIONS,
    );
    this.watch(this.channel.getConnectivityState(false));
  }

  /** The channel, for typed calls that route through the mesh (see `RoutedChannel`). */
  get channel(): grpc.Channel {
    return this.client.getChannel() as grpc.Channel;
  }

  /**
   * Whether the connection was up once and is not now (a keepalive went unanswered: the instance hangs, or its
   * link is cut). Such a channel is asked to reconnect (grpc-js leaves a dropped one idle until asked), so that it
   * comes back when the instance does. A channel that never connected yet has not lost anything: only an attempt
   * can connect it.
   */
  lost(): boolean {
    return connectionLost(this.channel, this.seen);
  }

  /** Takes the connection for one call; {@link AgentConnection.release} gives it back. */
  acquire(): SendProbe {
    this.active += 1;
    return {
      ready: this.channel.getConnectivityState(false) === grpc.connectivityState.READY,
      epoch: this.readyEpoch,
    };
  }

  /** A call on the connection ended. */
  release(): void {
    this.active -= 1;
    if (this.retired && this.active === 0) this.close();
  }

  /** No new call will use the connection: it closes now, or when the last call on it ends. */
  retire(): void {
    this.retired = true;
    if (this.active === 0) this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
  }

  /** Whether a request started at `probe` certainly never left: the channel was not ready then and never since. */
  neverSent(probe: SendProbe): boolean {
    return (
      !probe.ready &&
      probe.epoch === this.readyEpoch &&
      this.channel.getConnectivityState(false) !== grpc.connectivityState.READY
    );
  }

  /** The failure of an attempt started at `probe` that heard `heardFromServer` before it failed with `status`. */
  failure(status: unknown, heardFromServer: boolean, probe: SendProbe): AttemptFailure {
    const error = fromServiceError(status);
    const serverStatus = statusFromServer(status as { metadata?: grpc.Metadata });
    const answered = heardFromServer || serverStatus;
    return { error, answered, serverStatus, neverSent: !answered && this.neverSent(probe) };
  }

  /**
   * One unary attempt of a generic call, made on the channel itself rather than through the generated client (see
   * {@link unaryCall}).
   */
  async invoke(
    request: InvokeRequest,
    headers: Record<string, string>,
    deadline: number,
    probe: SendProbe,
  ): Promise<AttemptOutcome<InvokeAnswer>> {
    const outcome = await unaryCall(this.channel, invokeDefinition(), request, toMetadata(headers), deadline);
    if (outcome.ok) return outcome;
    return { ok: false, ...this.failure(outcome.error, outcome.heardFromServer, probe) };
  }

  /**
   * One attempt of a streamed generic call, settled by its first chunk or its failure. A stream on which the agent
   * sends nothing for `idleTimeoutMs` is cancelled (DEADLINE_EXCEEDED, final); only the wait for the agent is
   * timed, never the consumer's own time between chunks.
   */
  async openStream(
    request: InvokeRequest,
    headers: Record<string, string>,
    deadline: number,
    idleTimeoutMs: number,
    probe: SendProbe,
  ): Promise<AttemptOutcome<OpenStream>> {
    const call = this.client.InvokeStream(
      request,
      toMetadata(headers),
      Number.isFinite(deadline) ? { deadline } : {},
    );
    let heardFromServer = false;
    call.on('metadata', () => (heardFromServer = true));
    const iterator = call[Symbol.asyncIterator]() as AsyncIterator<InvokeAnswer>;
    let idledOut = false;
    const idleError = () =>
      new MeshError(Code.DEADLINE_EXCEEDED, `stream idle for ${idleTimeoutMs}ms: no chunk from the agent`);
    // Only the wait for the agent is timed: a chunk already buffered resolves at once, however long the consumer
    // took with the previous one.
    const pull = async (): Promise<IteratorResult<InvokeAnswer>> => {
      const idle = setTimeout(() => {
        idledOut = true;
        call.cancel();
      }, idleTimeoutMs);
      try {
        return await iterator.next();
      } finally {
        clearTimeout(idle);
      }
    };
    let first: IteratorResult<InvokeAnswer>;
    try {
      first = await pull();
    } catch (caught) {
      call.cancel();
      if (idledOut)
        return {
          ok: false,
          error: idleError(),
          answered: true,
          serverStatus: false,
          neverSent: false,
          final: true,
        };
      return { ok: false, ...this.failure(caught, heardFromServer, probe) };
    }
    const stream: OpenStream = {
      first,
      next: () =>
        pull().catch((caught: unknown) => {
          throw idledOut ? idleError() : fromServiceError(caught);
        }),
      cancel: () => call.cancel(),
      get idledOut() {
        return idledOut;
      },
    };
    return { ok: true, value: stream };
  }

  /** Follows the channel's state: each time it becomes READY, a request may have left on it. */
  private watch(state: grpc.connectivityState): void {
    if (state === grpc.connectivityState.SHUTDOWN) return;
    this.channel.watchConnectivityState(state, Infinity, () => {
      const now = this.channel.getConnectivityState(false);
      if (now === grpc.connectivityState.READY) this.readyEpoch += 1;
      this.watch(now);
    });
  }
}

/**
 * Whether `channel` had a connection and lost it: it was READY once (`seen.connected`, updated here) and is not
 * now, or it is failing to connect. Such a channel is asked to reconnect (grpc-js leaves a dropped one idle until
 * asked), so that it comes back when its peer does. One that never connected yet has not lost anything: only a
 * call can connect it.
 */
export function connectionLost(channel: grpc.Channel, seen: { connected: boolean }): boolean {
  const state = channel.getConnectivityState(false);
  if (state === grpc.connectivityState.READY) {
    seen.connected = true;
    return false;
  }
  if (!seen.connected && state !== grpc.connectivityState.TRANSIENT_FAILURE) return false;
  if (state === grpc.connectivityState.IDLE) channel.getConnectivityState(true);
  return true;
}

/** Headers as grpc-js metadata. */
export function toMetadata(headers: Record<string, string>): grpc.Metadata {
  const metadata = new grpc.Metadata();
  for (const key in headers) metadata.set(key, headers[key]!);
  return metadata;
}
