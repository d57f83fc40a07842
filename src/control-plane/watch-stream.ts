import { Code } from '../core/errors.js';
import { isRevoked, revokedRefusal } from '../core/policy.js';
import type { WatchEvent } from '../generated/agentmesh/v1/WatchEvent.js';
import type { WatchRequest__Output } from '../generated/agentmesh/v1/WatchRequest.js';
import type { Logger } from '../observability/logger.js';
import { policiesToWire, recordToWire } from './convert.js';
import { observeSafely, type ControlPlaneServiceObserver } from './service-observer.js';
import type { ControlPlaneState, StateChange } from './state.js';

/**
 * The part of a server-streaming Watch call that serving it needs (grpc-js's `ServerWritableStream` has it), so
 * that the flow control and bounds of a watch live apart from the wire adapter.
 */
export interface WatchCall {
  readonly request: WatchRequest__Output;
  /** Writes one message; false when the stream's buffer is full and `drain` is to be awaited. */
  write(event: WatchEvent): boolean;
  once(event: 'drain', listener: () => void): unknown;
  on(event: 'cancelled' | 'close' | 'error', listener: () => void): unknown;
  /** Ends the stream with a status (the codes are gRPC's, see {@link Code}). */
  emit(event: 'error', status: { code: number; details: string }): unknown;
}

/** Options for {@link WatchStreams}. */
export interface WatchStreamOptions {
  state: ControlPlaneState;
  logger: Logger;
  observer?: ControlPlaneServiceObserver;
  /** How often an idle watch stream gets a progress message (default 10 s). */
  watchProgressMs?: number;
  /** Most messages queued for a watcher that does not read before it is cut off (default 10,000). */
  watchQueueLimit?: number;
  /** Most bytes (estimated) queued for a watcher that does not read before it is cut off (default 16 MiB). */
  watchQueueBytes?: number;
  /** Most watch streams one identity may hold open at once (default 16; an agent needs one). */
  watchesPerIdentity?: number;
}

/**
 * The watch streams the control plane serves, counted per identity: one identity cannot hold the control plane's
 * memory in watch streams it opens and never reads.
 */
export class WatchStreams {
  private readonly open = new Map<string, number>();
  private readonly maxPerIdentity: number;

  constructor(private readonly options: WatchStreamOptions) {
    this.maxPerIdentity = options.watchesPerIdentity ?? 16;
  }

  /**
   * Serves `call` to `watcher` (its SPIFFE ID, already authenticated and not revoked), or ends it with
   * RESOURCE_EXHAUSTED when that identity already holds the most streams it may.
   */
  serve(call: WatchCall, watcher: string): void {
    const open = this.open.get(watcher) ?? 0;
    if (open >= this.maxPerIdentity) {
      call.emit('error', {
        code: Code.RESOURCE_EXHAUSTED,
        details: `"${watcher.slice(0, 200)}" has ${open} watch streams open, the most one identity may: close one first`,
      });
      return;
    }
    this.open.set(watcher, open + 1);
    serveWatch(call, this.options, watcher, () => {
      const left = (this.open.get(watcher) ?? 1) - 1;
      if (left > 0) this.open.set(watcher, left);
      else this.open.delete(watcher);
    });
  }
}

/** A change as a watch message. */
function changeToWire(change: StateChange): WatchEvent {
  if (change.kind === 'policies')
    return { revision: change.revision, policies: policiesToWire(change.policies, change.revision) };
  if (change.kind === 'load')
    return { revision: change.revision, load: { agentId: change.agentId, load: change.load } };
  return {
    revision: change.revision,
    agent: {
      type: change.type === 'put' ? 'TYPE_PUT' : 'TYPE_DELETE',
      agent: recordToWire(change.record),
      reason: change.reason,
    },
  };
}

/** What a change weighs in a watcher's queue when its own size is not known (a change replayed on resume). */
const REPLAYED_CHANGE_BYTES = 256;

/**
 * Streams the state to one watcher: a snapshot (or the missed changes when resuming from a kept revision), then
 * every change, with progress messages while idle. A watcher that stops reading is cut off with
 * RESOURCE_EXHAUSTED once its queue holds too many messages or bytes, or when a new snapshot would have to wait
 * behind what it has not read; it resumes from its last revision. `onClosed` is called once when it ends.
 */
function serveWatch(
  call: WatchCall,
  options: WatchStreamOptions,
  watcher: string,
  onClosed: () => void,
): void {
  const { state } = options;
  const observer = options.observer ?? {};
  const limit = options.watchQueueLimit ?? 10_000;
  const byteLimit = options.watchQueueBytes ?? 16 * 1024 * 1024;
  const queue: Array<{ event: WatchEvent; bytes: number }> = [];
  let queuedBytes = 0;
  let waitingForDrain = false;
  let lastSent = 0;
  let closed = false;

  const snapshot = (): WatchEvent => ({
    revision: state.revision,
    snapshot: {
      agents: [...state.registry.all()].map(recordToWire),
      policies: policiesToWire(state.policies, state.policiesRevision),
      partial: state.partial,
    },
  });

  const flush = () => {
    while (!closed && !waitingForDrain && queue.length > 0) {
      const { event, bytes } = queue.shift()!;
      queuedBytes -= bytes;
      lastSent = Date.now();
      if (!call.write(event)) {
        waitingForDrain = true;
        call.once('drain', () => {
          waitingForDrain = false;
          flush();
        });
      }
    }
  };

  const cutOff = (why: string) => {
    close(Code.RESOURCE_EXHAUSTED);
    call.emit('error', {
      code: Code.RESOURCE_EXHAUSTED,
      // Messages written just before the cut may never arrive: the watcher resumes from what it received.
      details: `watcher too slow: ${why}; resume from the last revision you received`,
    });
  };

  const enqueue = (event: WatchEvent, bytes: number) => {
    if (closed) return;
    if (queue.length >= limit) return cutOff(`${limit} messages queued`);
    if (queuedBytes + bytes > byteLimit) return cutOff(`${Math.round(queuedBytes / 1024)} KiB queued`);
    queue.push({ event, bytes });
    queuedBytes += bytes;
    flush();
  };

  /** A snapshot goes out at once, or not at all: one that would wait behind unread messages cuts the watcher off. */
  const sendSnapshot = () => {
    if (closed) return;
    if (waitingForDrain || queue.length > 0)
      return cutOff('a new snapshot would wait behind unread messages');
    queue.push({ event: snapshot(), bytes: 0 });
    flush();
  };

  observeSafely(options.logger, 'watchOpened', () => observer.watchOpened?.());
  const since = Number(call.request.sinceRevision);
  const missed = since > 0 ? state.changesSince(since) : undefined;
  // More missed changes than a queue holds: a snapshot says the same in one message (and the queue cannot
  // overflow before the stream is set up).
  if (missed && missed.length < limit) {
    for (const change of missed) enqueue(changeToWire(change), REPLAYED_CHANGE_BYTES);
    if (missed.length === 0) enqueue({ revision: state.revision, progress: {} }, 0);
  } else {
    sendSnapshot();
  }

  const unsubscribe = state.subscribe(
    (change, bytes) => {
      // A watcher revoked while its stream is open hears nothing more.
      if (change.kind === 'policies' && isRevoked(change.policies, watcher)) {
        close(Code.PERMISSION_DENIED);
        call.emit('error', { code: Code.PERMISSION_DENIED, details: revokedRefusal(watcher).message });
        return;
      }
      enqueue(changeToWire(change), bytes);
    },
    () => sendSnapshot(),
  );
  const progress = setInterval(() => {
    if (Date.now() - lastSent >= (options.watchProgressMs ?? 10_000) && queue.length === 0) {
      enqueue({ revision: state.revision, progress: {} }, 0);
    }
  }, options.watchProgressMs ?? 10_000);
  progress.unref();

  function close(code: number = Code.OK) {
    if (closed) return;
    closed = true;
    unsubscribe();
    clearInterval(progress);
    onClosed();
    observeSafely(options.logger, 'watchClosed', () => {
      observer.watchClosed?.();
      observer.rpcFinished?.('Watch', code);
    });
  }
  call.on('cancelled', () => close(Code.CANCELLED));
  call.on('close', () => close());
  call.on('error', () => close(Code.UNKNOWN));
}
