import { randomBytes } from 'node:crypto';
import { Code, MeshError } from '../../core/errors.js';
import type { Clock } from '../../identity/certificate-authority.js';
import { BoundedHistory, DEFAULT_HISTORY_BYTES } from '../bounded-history.js';
import type { LeaseId, Store, StoreEvent, StoreWatch, StoreWatchHandlers, StoredValue } from '../store.js';

interface Lease {
  id: LeaseId;
  ttlMs: number;
  expiresAt: number;
  /** The keys attached; usually one, so an array costs far less than a Set (this is per registered agent). */
  keys: string[];
}

interface Watcher {
  prefix: string;
  handlers: StoreWatchHandlers;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

function detach(lease: Lease | undefined, key: string): void {
  const index = lease?.keys.indexOf(key) ?? -1;
  if (index >= 0) lease!.keys.splice(index, 1);
}

/** A min-heap of lease deadlines; stale entries (renewed or revoked leases) are skipped when popped. */
class DeadlineHeap {
  private readonly items: Array<{ at: number; id: LeaseId }> = [];

  push(at: number, id: LeaseId): void {
    const items = this.items;
    items.push({ at, id });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.at <= items[i]!.at) break;
      [items[parent], items[i]] = [items[i]!, items[parent]!];
      i = parent;
    }
  }

  peek(): { at: number; id: LeaseId } | undefined {
    return this.items[0];
  }

  pop(): { at: number; id: LeaseId } | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < items.length && items[left]!.at < items[smallest]!.at) smallest = left;
        if (right < items.length && items[right]!.at < items[smallest]!.at) smallest = right;
        if (smallest === i) break;
        [items[smallest], items[i]] = [items[i]!, items[smallest]!];
        i = smallest;
      }
    }
    return top;
  }

  get size(): number {
    return this.items.length;
  }
}

/** Options for {@link MemoryStore}. */
export interface MemoryStoreOptions {
  clock?: Clock;
  /** How many past events a watch can start from (default 10,000); older ones are compacted away. */
  historySize?: number;
  /** How many bytes of past events are kept, whatever their number (default 32 MiB). */
  historyBytes?: number;
}

/** What a kept event costs besides its key and value, about. */
const EVENT_OVERHEAD_BYTES = 96;
/** How often the store notes that it runs, to tell its own pauses from agents' silence. */
const TICK_MS = 1_000;
/** A gap between ticks longer than this is a pause of the process (stopped, frozen, starved), not of the agents. */
const PAUSE_MS = 2 * TICK_MS;

/**
 * The embedded store: everything in this process's memory, lost when it exits. Lease expiry uses one timer for
 * all leases (a deadline heap), not a timer per lease, so tens of thousands of agents cost no more timers than one.
 */
export class MemoryStore implements Store {
  readonly kind = 'memory';
  /** Everything is lost with the process: a control plane on it starts empty after a restart. */
  readonly durable = false;
  private readonly data = new Map<string, StoredValue>();
  private readonly leases = new Map<LeaseId, Lease>();
  private readonly deadlines = new DeadlineHeap();
  private readonly watchers = new Set<Watcher>();
  private readonly clock: Clock;
  private readonly history: BoundedHistory<StoreEvent>;
  private revision = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private closed = false;
  private readonly ticker: NodeJS.Timeout;
  private lastTick: number;

  constructor(options: MemoryStoreOptions = {}) {
    this.clock = options.clock ?? { now: () => Date.now() };
    this.history = new BoundedHistory(
      options.historySize ?? 10_000,
      options.historyBytes ?? DEFAULT_HISTORY_BYTES,
    );
    // Revisions start from the clock (in microsecond steps), not from 0, so that a watcher resuming with a
    // revision from before a restart of this process is always behind it, and gets a snapshot, instead of
    // being handed the new process's changes as if they were the ones it missed.
    this.revision = this.clock.now() * 1_000;
    this.lastTick = this.clock.now();
    this.ticker = setInterval(() => this.noticePause(), TICK_MS);
    this.ticker.unref();
  }

  /**
   * Leases do not run out while the store itself is not running: after a pause of this process (SIGSTOP, a frozen
   * VM, a starved machine) no agent could have renewed, so every lease is extended by the pause, as etcd extends
   * leases when a new leader takes over. Without it, a control plane resumed after more than a lease would remove
   * every agent at once, although all of them are fine.
   */
  private noticePause(): void {
    const now = this.clock.now();
    const gap = now - this.lastTick;
    this.lastTick = now;
    if (gap <= PAUSE_MS) return;
    const paused = gap - TICK_MS;
    for (const lease of this.leases.values()) lease.expiresAt += paused;
  }

  async grantLease(ttlMs: number): Promise<{ lease: LeaseId; ttlMs: number }> {
    const id = randomBytes(8).toString('hex');
    const lease: Lease = { id, ttlMs, expiresAt: this.clock.now() + ttlMs, keys: [] };
    this.leases.set(id, lease);
    this.schedule(lease);
    return { lease: id, ttlMs };
  }

  async keepAlive(id: LeaseId): Promise<boolean> {
    const lease = this.leases.get(id);
    if (!lease) return false;
    // Only the deadline moves: the heap keeps the earlier entry, and when it comes due the lease is found renewed
    // and scheduled again, so a lease has one heap entry however often it is renewed.
    lease.expiresAt = this.clock.now() + lease.ttlMs;
    return true;
  }

  async revokeLease(id: LeaseId): Promise<void> {
    this.endLease(id, 'deleted');
  }

  async put(key: string, value: string, options: { lease?: LeaseId } = {}): Promise<number> {
    if (options.lease !== undefined && !this.leases.has(options.lease)) {
      throw new MeshError(Code.NOT_FOUND, `lease ${options.lease} does not exist (it ended)`);
    }
    const previous = this.data.get(key);
    if (previous?.lease !== undefined && previous.lease !== options.lease) {
      detach(this.leases.get(previous.lease), key);
    }
    this.revision += 1;
    const stored: StoredValue = { key, value, revision: this.revision };
    if (options.lease !== undefined) {
      stored.lease = options.lease;
      const keys = this.leases.get(options.lease)!.keys;
      if (!keys.includes(key)) keys.push(key);
    }
    this.data.set(key, stored);
    this.emit([
      { type: 'put', key, value, revision: this.revision, ...(stored.lease ? { lease: stored.lease } : {}) },
    ]);
    return this.revision;
  }

  async putIfRevision(
    key: string,
    value: string,
    revision: number,
    options: { lease?: LeaseId } = {},
  ): Promise<boolean> {
    if (this.data.get(key)?.revision !== revision) return false;
    if (options.lease !== undefined && !this.leases.has(options.lease)) return false;
    await this.put(key, value, options);
    return true;
  }

  async create(key: string, value: string, options: { lease?: LeaseId } = {}): Promise<boolean> {
    if (this.data.has(key)) return false;
    await this.put(key, value, options);
    return true;
  }

  async delete(key: string): Promise<boolean> {
    return this.remove(key, 'deleted');
  }

  async get(key: string): Promise<StoredValue | undefined> {
    return this.data.get(key);
  }

  async list(prefix: string): Promise<{ items: StoredValue[]; revision: number }> {
    const items = [...this.data.values()].filter((item) => item.key.startsWith(prefix));
    return { items, revision: this.revision };
  }

  async watch(prefix: string, afterRevision: number, handlers: StoreWatchHandlers): Promise<StoreWatch> {
    const oldest = this.history.items[0]?.revision ?? this.revision + 1;
    if (afterRevision < this.revision && afterRevision + 1 < oldest) {
      throw new Error(`revision ${afterRevision} was compacted (oldest kept ${oldest}); list again`);
    }
    const missed = this.history.items.filter(
      (event) => event.revision > afterRevision && event.key.startsWith(prefix),
    );
    const watcher: Watcher = { prefix, handlers };
    this.watchers.add(watcher);
    if (missed.length > 0) handlers.onEvents(missed); // before any newer event can reach this watcher
    return { close: async () => void this.watchers.delete(watcher) };
  }

  async campaign(_name: string, onChange: (leader: boolean) => void): Promise<() => Promise<void>> {
    queueMicrotask(() => onChange(true)); // one process, one leader
    return async () => onChange(false);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.ticker);
    this.watchers.clear();
  }

  /** The number of past events kept for watches, and their size in bytes (for tests and the benchmark). */
  get historyStats(): { events: number; bytes: number } {
    return { events: this.history.length, bytes: this.history.bytes };
  }

  /** Current revision (for tests and the benchmark). */
  get currentRevision(): number {
    return this.revision;
  }

  private remove(key: string, cause: 'deleted' | 'lease-expired'): boolean {
    const stored = this.data.get(key);
    if (!stored) return false;
    this.data.delete(key);
    if (stored.lease !== undefined) detach(this.leases.get(stored.lease), key);
    this.revision += 1;
    this.emit([{ type: 'delete', key, revision: this.revision, cause }]);
    return true;
  }

  private endLease(id: LeaseId, cause: 'deleted' | 'lease-expired'): void {
    const lease = this.leases.get(id);
    if (!lease) return;
    this.leases.delete(id);
    for (const key of [...lease.keys]) this.remove(key, cause);
  }

  private emit(events: StoreEvent[]): void {
    // Bounded in bytes too, so that large values cannot fill memory within the count.
    for (const event of events) {
      this.history.push(
        event,
        EVENT_OVERHEAD_BYTES + event.key.length + (event.type === 'put' ? event.value.length : 0),
      );
    }
    for (const watcher of this.watchers) {
      const mine = events.filter((event) => event.key.startsWith(watcher.prefix));
      if (mine.length > 0) watcher.handlers.onEvents(mine);
    }
  }

  private schedule(lease: Lease): void {
    this.deadlines.push(lease.expiresAt, lease.id);
    this.arm();
  }

  /** Keeps one timer, set for the earliest deadline. */
  private arm(): void {
    const next = this.deadlines.peek();
    if (this.closed || !next || next.at >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = next.at;
    // setTimeout takes at most 2^31-1 ms (about 24.8 days); a later deadline is re-armed when this one fires.
    this.timer = setTimeout(
      () => this.expire(),
      Math.min(MAX_TIMER_MS, Math.max(0, next.at - this.clock.now())),
    );
    this.timer.unref();
  }

  private expire(): void {
    this.timerAt = Infinity;
    this.noticePause(); // a timer that fires late may fire first: the pause counts before anything expires
    const now = this.clock.now();
    for (let next = this.deadlines.peek(); next && next.at <= now; next = this.deadlines.peek()) {
      this.deadlines.pop();
      const lease = this.leases.get(next.id);
      if (!lease) continue;
      if (lease.expiresAt <= now) this.endLease(lease.id, 'lease-expired');
      else this.deadlines.push(lease.expiresAt, lease.id); // renewed since: its next deadline
    }
    this.arm();
  }
}
