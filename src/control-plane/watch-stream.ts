import type { AgentRecord } from '../core/agent-record.js';
import { Code } from '../core/errors.js';
import { isRevoked, revokedRefusal } from '../core/policy.js';
import { compileScope, type ScopeMatcher } from '../core/watch-scope.js';
import type { WatchEvent } from '../generated/agentmesh/v1/WatchEvent.js';
import type { WatchRequest__Output } from '../generated/agentmesh/v1/WatchRequest.js';
import type { Logger } from '../observability/logger.js';
import { policiesToWire, recordToWire } from './convert.js';
import { observeSafely, type ControlPlaneServiceObserver } from './service-observer.js';
import type { ControlPlaneState, StateChange } from './state.js';
import { scopeFromWire } from './watch-message.js';

/**
 * The part of a server-streaming Watch call that serving it needs (grpc-js's `ServerWritableStream` has it), so
 * that the flow control and bounds of a watch live apart from the wire adapter. Messages are written encoded: one
 * change is encoded once and the same bytes go to every watcher it concerns.
 */
export interface WatchCall {
  readonly request: WatchRequest__Output;
  /** Writes one encoded message; false when the stream's buffer is full and `drain` is to be awaited. */
  write(message: Buffer): boolean;
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
  /** Most bytes queued for a watcher that does not read before it is cut off (default 16 MiB). */
  watchQueueBytes?: number;
  /** Most watch streams one identity may hold open at once (default 16; an agent needs one, two while widening). */
  watchesPerIdentity?: number;
}

/** The most agents, and about the most bytes, one piece of a snapshot carries (to a watcher that takes pieces). */
const PIECE_AGENTS = 512;
const PIECE_BYTES = 1024 * 1024;
/** Deliveries waiting beyond which they are all written at once rather than a slice per turn. */
const MAX_BACKLOG = 100_000;
/** Deliveries written in one turn of the event loop before requests get theirs. */
const DELIVERIES_PER_TURN = 256;

/**
 * The watch streams the control plane serves. Each change is handed to the watchers it concerns (found through
 * indexes by type and id, not by asking every watcher), encoded once for all of them, after the request that made
 * it has had its answer: a heartbeat does not wait for the fan-out. Streams are counted per identity: one identity
 * cannot hold the control plane's memory in watch streams it opens and never reads.
 */
export class WatchStreams {
  private readonly open = new Map<string, number>();
  private readonly maxPerIdentity: number;
  /** Watchers whose every target query names a type, by those types (and by the agents they name). */
  private readonly byType = new Map<string, Set<Watcher>>();
  private readonly byId = new Map<string, Set<Watcher>>();
  /** Watchers any agent may concern: of the whole registry, with a query of any type, or with topics. */
  private readonly broad = new Set<Watcher>();
  private readonly all = new Set<Watcher>();
  private pending: StateChange[] = [];
  private dispatchScheduled = false;
  /** Deliveries found and not written yet, in order from {@link next}. */
  private readonly deliveries: Array<{ watcher: Watcher; change: StateChange; bytes: () => Buffer }> = [];
  private next = 0;
  private delivering = false;
  private subscribed = false;
  private stamp = 0;

  constructor(
    private readonly options: WatchStreamOptions,
    /** Encodes a message of the Watch stream (its wire serializer). */
    private readonly encode: (event: WatchEvent) => Buffer,
  ) {
    this.maxPerIdentity = options.watchesPerIdentity ?? 16;
  }

  /**
   * Serves `call` to `watcher` (its SPIFFE ID, already authenticated and not revoked), or ends it with
   * RESOURCE_EXHAUSTED when that identity already holds the most streams it may, INVALID_ARGUMENT for a scope that
   * is not valid.
   */
  serve(call: WatchCall, who: string): void {
    const open = this.open.get(who) ?? 0;
    if (open >= this.maxPerIdentity) {
      call.emit('error', {
        code: Code.RESOURCE_EXHAUSTED,
        details: `"${who.slice(0, 200)}" has ${open} watch streams open, the most one identity may: close one first`,
      });
      return;
    }
    let matcher: ScopeMatcher | undefined;
    if (call.request.scope) {
      const compiled = compileScope(scopeFromWire(call.request.scope));
      if (!compiled.ok) {
        call.emit('error', { code: Code.INVALID_ARGUMENT, details: compiled.error.message });
        return;
      }
      matcher = compiled.value;
    }
    this.subscribe();
    this.open.set(who, open + 1);
    const watcher = new Watcher(
      call,
      this.options,
      this.encode,
      matcher,
      who,
      () => this.watermark(),
      () => {
        this.unindex(watcher);
        const left = (this.open.get(who) ?? 1) - 1;
        if (left > 0) this.open.set(who, left);
        else this.open.delete(who);
      },
    );
    this.index(watcher);
    watcher.start();
  }

  private subscribe(): void {
    if (this.subscribed) return;
    this.subscribed = true;
    this.options.state.subscribe(
      (change) => {
        this.pending.push(change);
        if (this.dispatchScheduled) return;
        this.dispatchScheduled = true;
        setImmediate(() => this.dispatch());
      },
      () => {
        // Changes before the reset first, in order; then every watcher starts again from a snapshot.
        this.dispatch(true);
        for (const watcher of this.all) watcher.sendSnapshot();
      },
    );
  }

  /**
   * The latest revision every watcher has been handed all changes up to: a progress message carries no more, so
   * that a watcher resuming from it misses nothing still on its way.
   */
  private watermark(): number {
    if (this.next < this.deliveries.length) return this.deliveries[this.next]!.change.revision - 1;
    if (this.pending.length > 0) return this.pending[0]!.revision - 1;
    return this.options.state.revision;
  }

  private index(watcher: Watcher): void {
    this.all.add(watcher);
    const types = watcher.matcher?.typesNamed();
    if (!watcher.matcher || !types || watcher.matcher.scope.topics.length > 0) {
      this.broad.add(watcher);
      return;
    }
    for (const type of types) addTo(this.byType, type, watcher);
    for (const id of watcher.matcher.scope.agentIds) addTo(this.byId, id, watcher);
  }

  private unindex(watcher: Watcher): void {
    this.all.delete(watcher);
    this.broad.delete(watcher);
    for (const type of watcher.matcher?.typesNamed() ?? []) removeFrom(this.byType, type, watcher);
    for (const id of watcher.matcher?.scope.agentIds ?? []) removeFrom(this.byId, id, watcher);
  }

  /**
   * Finds the watchers each pending change concerns and queues the deliveries, each change encoded once; a load
   * report followed by a newer one of the same agent is passed over (only the latest load matters). Then writes
   * the deliveries, a slice per turn of the event loop, so that requests are served between slices.
   */
  private dispatch(all = false): void {
    this.dispatchScheduled = false;
    const changes = this.pending;
    this.pending = [];
    const latestLoad = new Map<string, number>();
    changes.forEach((change, i) => {
      if (change.kind === 'load') latestLoad.set(change.agentId, i);
    });
    changes.forEach((change, i) => {
      if (change.kind === 'load' && latestLoad.get(change.agentId) !== i) return;
      let encoded: Buffer | undefined;
      const bytes = () => (encoded ??= this.encode(changeToWire(change)));
      if (change.kind === 'policies') {
        for (const watcher of this.all) this.deliveries.push({ watcher, change, bytes });
        return;
      }
      const record =
        change.kind === 'agent' ? change.record : this.options.state.registry.get(change.agentId);
      if (!record) return; // the load of an agent already gone
      const previous = change.kind === 'agent' ? change.previous : undefined;
      const stamp = (this.stamp += 1);
      const offer = (watchers: Iterable<Watcher> | undefined) => {
        for (const watcher of watchers ?? []) {
          if (watcher.stamp === stamp) continue;
          watcher.stamp = stamp;
          if (watcher.concerns(record, previous)) this.deliveries.push({ watcher, change, bytes });
        }
      };
      offer(this.broad);
      offer(this.byType.get(record.spec.type));
      if (previous && previous.spec.type !== record.spec.type) offer(this.byType.get(previous.spec.type));
      offer(this.byId.get(record.id));
    });
    this.deliver(all);
  }

  /** Writes queued deliveries in order: a slice now and the rest in later turns, or all of them now. */
  private deliver(all: boolean): void {
    let written = 0;
    all ||= this.deliveries.length - this.next > MAX_BACKLOG;
    while (this.next < this.deliveries.length && (all || written < DELIVERIES_PER_TURN)) {
      const { watcher, change, bytes } = this.deliveries[this.next]!;
      this.next += 1;
      written += 1;
      watcher.deliver(change, bytes);
    }
    if (this.next >= this.deliveries.length) {
      this.deliveries.length = 0;
      this.next = 0;
      return;
    }
    if (this.delivering) return;
    this.delivering = true;
    setImmediate(() => {
      this.delivering = false;
      this.deliver(false);
    });
  }
}

function addTo(index: Map<string, Set<Watcher>>, key: string, watcher: Watcher): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(watcher);
}

function removeFrom(index: Map<string, Set<Watcher>>, key: string, watcher: Watcher): void {
  const set = index.get(key);
  set?.delete(watcher);
  if (set?.size === 0) index.delete(key);
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

/**
 * A snapshot still to be written: its records as of its revision, encoded a piece at a time as the stream takes
 * them (a watcher that takes pieces), or all at once.
 */
class PendingSnapshot {
  private next = 0;

  constructor(
    private readonly records: AgentRecord[],
    private readonly head: Omit<WatchEvent, 'snapshot'> & { snapshot: NonNullable<WatchEvent['snapshot']> },
    private readonly pieces: boolean,
    private readonly encode: (event: WatchEvent) => Buffer,
  ) {}

  get done(): boolean {
    return this.next >= this.records.length && this.next > 0;
  }

  /** The next message: a piece of at most {@link PIECE_AGENTS} agents and about {@link PIECE_BYTES}, or the whole. */
  take(): Buffer {
    const { records } = this;
    let count = this.pieces ? Math.min(PIECE_AGENTS, records.length - this.next) : records.length;
    for (;;) {
      const end = this.next + count;
      const more = end < records.length;
      const message = this.encode({
        ...this.head,
        snapshot: {
          ...this.head.snapshot,
          agents: records.slice(this.next, end).map(recordToWire),
          more,
        },
      });
      // Agents with large specs: fewer per piece (one agent's spec is bounded, so one always fits).
      if (this.pieces && message.length > PIECE_BYTES && count > 1) {
        count = Math.ceil(count / 2);
        continue;
      }
      this.next = Math.max(end, 1);
      return message;
    }
  }
}

/**
 * One watch stream: a snapshot (or the missed changes when resuming from a kept revision), then every change that
 * concerns its scope, with progress messages while idle. A watcher that stops reading is cut off with
 * RESOURCE_EXHAUSTED once its queue holds too many messages or bytes; it resumes from its last revision. `onClosed`
 * is called once when it ends.
 */
class Watcher {
  /** Set by the fan-out while it offers one change, so that a watcher in two indexes gets it once. */
  stamp = 0;
  /** Changes up to this revision are in what the watcher was sent first (its snapshot, or what it missed). */
  private from = 0;
  private readonly queue: Array<{ message: Buffer; bytes: number } | PendingSnapshot> = [];
  private queuedBytes = 0;
  private waitingForDrain = false;
  /** A snapshot waits for the messages queued before it to be written. */
  private snapshotDue = false;
  private lastSent = 0;
  private closed = false;
  private progress: NodeJS.Timeout | undefined;
  private readonly limit: number;
  private readonly byteLimit: number;

  constructor(
    private readonly call: WatchCall,
    private readonly options: WatchStreamOptions,
    private readonly encode: (event: WatchEvent) => Buffer,
    readonly matcher: ScopeMatcher | undefined,
    private readonly who: string,
    /** The revision a progress message may carry (see `WatchStreams.watermark`). */
    private readonly watermark: () => number,
    private readonly onClosed: () => void,
  ) {
    this.limit = options.watchQueueLimit ?? 10_000;
    this.byteLimit = options.watchQueueBytes ?? 16 * 1024 * 1024;
  }

  /** Whether a change to `record` (which was `previous` before) is one this watcher is to hear of. */
  concerns(record: AgentRecord, previous: AgentRecord | undefined): boolean {
    if (!this.matcher) return true;
    return this.matcher.matches(record) || (previous !== undefined && this.matcher.matches(previous));
  }

  start(): void {
    const { state } = this.options;
    const observer = this.options.observer ?? {};
    observeSafely(this.options.logger, 'watchOpened', () => observer.watchOpened?.());
    const since = Number(this.call.request.sinceRevision);
    const missed = since > 0 ? state.changesSince(since) : undefined;
    // More missed changes than a queue holds: a snapshot says the same in one message (and the queue cannot
    // overflow before the stream is set up).
    const replay = missed && missed.length < this.limit ? this.encodeMissed(missed) : undefined;
    if (replay) {
      this.from = state.revision;
      for (const message of replay) this.enqueue(message);
      if (this.queue.length === 0)
        this.enqueue(this.encode({ revision: Math.max(since, this.watermark()), progress: {} }));
    } else {
      this.sendSnapshot();
    }
    const every = this.options.watchProgressMs ?? 10_000;
    this.progress = setInterval(() => {
      if (Date.now() - this.lastSent >= every && this.queue.length === 0) {
        this.enqueue(this.encode({ revision: Math.max(this.from, this.watermark()), progress: {} }));
      }
    }, every);
    this.progress.unref();
    this.call.on('cancelled', () => this.close(Code.CANCELLED));
    this.call.on('close', () => this.close());
    this.call.on('error', () => this.close(Code.UNKNOWN));
  }

  /** Queues a change the fan-out found this watcher concerned by (`bytes` encodes it, once for all watchers). */
  deliver(change: StateChange, bytes: () => Buffer): void {
    if (this.closed) return;
    // A watcher revoked while its stream is open hears nothing more (even one whose snapshot holds the change).
    if (change.kind === 'policies' && isRevoked(change.policies, this.who)) {
      this.close(Code.PERMISSION_DENIED);
      this.call.emit('error', { code: Code.PERMISSION_DENIED, details: revokedRefusal(this.who).message });
      return;
    }
    if (this.snapshotDue || change.revision <= this.from) return;
    this.enqueue(bytes());
  }

  /**
   * Starts the watcher again from a snapshot of now. One that would wait behind unread messages goes out once they
   * are written, taken then; changes meanwhile are not queued (the snapshot will hold them).
   */
  sendSnapshot(): void {
    if (this.closed) return;
    if (this.waitingForDrain || this.queue.length > 0) {
      // Far behind already: it resumes (or starts over) when it reads again, rather than hold its place.
      if (this.queuedBytes > this.byteLimit / 4 || this.queue.length > this.limit / 4)
        return this.cutOff('a new snapshot would wait behind too many unread messages');
      this.snapshotDue = true;
      return;
    }
    this.snapshotDue = false;
    const { state } = this.options;
    this.from = state.revision;
    const records = this.matcher ? this.scopedRecords(this.matcher) : [...state.registry.all()];
    this.queue.push(
      new PendingSnapshot(
        records,
        {
          revision: state.revision,
          snapshot: {
            agents: [],
            policies: policiesToWire(state.policies, state.policiesRevision),
            partial: state.partial,
          },
        },
        this.call.request.chunkedSnapshots,
        this.encode,
      ),
    );
    this.flush();
  }

  /** The agents a scope holds, through the registry's indexes where its queries allow. */
  private scopedRecords(matcher: ScopeMatcher): AgentRecord[] {
    const { registry } = this.options.state;
    const found = new Map<string, AgentRecord>();
    const { scope } = matcher;
    for (const { query, selector } of matcher.targets) {
      const { labelSelector: _text, ...fields } = query;
      const discovered = registry.discover({
        ...fields,
        ...(selector ? { selector } : {}),
        includeUnhealthy: true,
      });
      for (const record of discovered) found.set(record.id, record);
    }
    for (const id of scope.agentIds) {
      const record = registry.get(id);
      if (record) found.set(id, record);
    }
    if (scope.topics.length > 0) {
      for (const record of registry.subscribers()) if (matcher.matches(record)) found.set(record.id, record);
    }
    return [...found.values()];
  }

  /**
   * The missed changes that concern this watcher, encoded; undefined when they would fill half its queue (in
   * messages or bytes): a snapshot then says the same in less, and the stream is not cut off as it starts.
   */
  private encodeMissed(missed: StateChange[]): Buffer[] | undefined {
    const messages: Buffer[] = [];
    let bytes = 0;
    for (const change of missed) {
      if (!this.concernsChange(change)) continue;
      const message = this.encode(changeToWire(change));
      bytes += message.length;
      messages.push(message);
      if (bytes > this.byteLimit / 2 || messages.length > this.limit / 2) return undefined;
    }
    return messages;
  }

  private concernsChange(change: StateChange): boolean {
    if (change.kind === 'policies') return true;
    const record = change.kind === 'agent' ? change.record : this.options.state.registry.get(change.agentId);
    return (
      record !== undefined && this.concerns(record, change.kind === 'agent' ? change.previous : undefined)
    );
  }

  private enqueue(message: Buffer): void {
    if (this.closed) return;
    if (this.queue.length >= this.limit) return this.cutOff(`${this.limit} messages queued`);
    if (this.queuedBytes + message.length > this.byteLimit)
      return this.cutOff(`${Math.round(this.queuedBytes / 1024)} KiB queued`);
    this.queue.push({ message, bytes: message.length });
    this.queuedBytes += message.length;
    this.flush();
  }

  private flush(): void {
    while (!this.closed && !this.waitingForDrain && this.queue.length > 0) {
      const head = this.queue[0]!;
      let message: Buffer;
      if (head instanceof PendingSnapshot) {
        message = head.take();
        if (head.done) this.queue.shift();
      } else {
        this.queue.shift();
        this.queuedBytes -= head.bytes;
        message = head.message;
      }
      this.lastSent = Date.now();
      if (!this.call.write(message)) {
        this.waitingForDrain = true;
        this.call.once('drain', () => {
          this.waitingForDrain = false;
          this.flush();
        });
      }
    }
    if (this.snapshotDue && !this.waitingForDrain && this.queue.length === 0) this.sendSnapshot();
  }

  private cutOff(why: string): void {
    this.close(Code.RESOURCE_EXHAUSTED);
    this.call.emit('error', {
      code: Code.RESOURCE_EXHAUSTED,
      // Messages written just before the cut may never arrive: the watcher resumes from what it received.
      details: `watcher too slow: ${why}; resume from the last revision you received`,
    });
  }

  private close(code: number = Code.OK): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.progress);
    this.onClosed();
    const observer = this.options.observer ?? {};
    observeSafely(this.options.logger, 'watchClosed', () => {
      observer.watchClosed?.();
      observer.rpcFinished?.('Watch', code);
    });
  }
}
