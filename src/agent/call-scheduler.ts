import { Code, MeshError } from '../core/errors.js';
import { admissionRefusal } from '../transport/status.js';

import { PRIORITY_CLASSES, type PriorityClass } from '../core/priority.js';

export { PRIORITY_CLASSES, priorityClass, type PriorityClass } from '../core/priority.js';

/** Options for {@link CallScheduler}. */
export interface CallSchedulerOptions {
  /** The agent's name, for messages. */
  agent: string;
  /** Calls run at once (the agent's `maxConcurrency`); 0: no limit, nothing waits. */
  limit: number;
  /** Calls that may wait for a place (default 4 × limit); beyond it a call is refused at once. */
  queueLimit?: number;
  clock?: { now(): number };
}

/**
 * A waiting call is answered DEADLINE_EXCEEDED this long before its deadline: the answer reaches the caller before
 * its own timer fires, so the stream ends with a status instead of a reset from the caller. Many resets at once
 * (a queue of calls expiring together) make Node's HTTP/2 flood protection close the whole connection, failing
 * every other call on it.
 */
const EXPIRY_MARGIN_MS = 25;
const MAX_TIMER_MS = 2_147_483_647;

interface Waiter {
  priority: number;
  order: number;
  deadline: number;
  start(): void;
  fail(error: MeshError): void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Admission for an agent's calls: up to `limit` run at once; the rest wait in a bounded queue ordered by priority
 * class and then arrival. A waiting call whose deadline passes, or whose caller goes away, leaves the queue without
 * running; when the queue is full the call is refused with RESOURCE_EXHAUSTED and a retry-after hint (how long the
 * calls ahead of it should take, from the recent service times). Also counts the calls in flight for heartbeats
 * and drains.
 */
export class CallScheduler {
  private running = 0;
  private order = 0;
  private readonly queue: Waiter[] = [];
  private readonly idleWaiters = new Set<() => void>();
  /** Exponentially weighted mean service time, ms. */
  private serviceMs = 0;
  private readonly clock: { now(): number };

  constructor(private readonly options: CallSchedulerOptions) {
    this.clock = options.clock ?? { now: () => Date.now() };
  }

  /** Calls running now. */
  get size(): number {
    return this.running;
  }

  /** Calls waiting for a place. */
  get waiting(): number {
    return this.queue.length;
  }

  private get queueLimit(): number {
    return this.options.queueLimit ?? this.options.limit * 4;
  }

  /** A place at once when one is free and nobody waits (no promise, no tick); undefined otherwise. */
  tryTake(): (() => void) | undefined {
    const { limit } = this.options;
    if (limit <= 0 || (this.running < limit && this.queue.length === 0)) return this.take();
    return undefined;
  }

  /**
   * Takes a place for a call, waiting for one when all are taken; resolves with the function that gives it back
   * (calling it again does nothing).
   * @throws MeshError RESOURCE_EXHAUSTED (with {@link MeshError.retryAfterMs}) when the queue is full,
   *   DEADLINE_EXCEEDED when the deadline passes while it waits, CANCELLED when `signal` aborts first.
   */
  async admit(
    priority: PriorityClass = 'default',
    deadline = Infinity,
    signal?: AbortSignal,
  ): Promise<() => void> {
    const free = this.tryTake();
    if (free) return free;
    if (this.queue.length >= this.queueLimit) throw this.refusal();
    const now = this.clock.now();
    if (deadline - EXPIRY_MARGIN_MS <= now) throw this.expired();
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        priority: PRIORITY_CLASSES.indexOf(priority),
        order: this.order++,
        deadline,
        start: () => {
          cleanup();
          resolve();
        },
        fail: (error) => {
          cleanup();
          this.remove(waiter);
          reject(error);
        },
        timer: Number.isFinite(deadline)
          ? setTimeout(
              () => waiter.fail(this.expired()),
              // Timers hold at most 2^31-1 ms (~24.8 days); a later deadline is beyond any wait here.
              Math.min(MAX_TIMER_MS, Math.max(0, deadline - now - EXPIRY_MARGIN_MS)),
            )
          : undefined,
      };
      const onAbort = () =>
        waiter.fail(new MeshError(Code.CANCELLED, 'the caller went away while the call waited'));
      const cleanup = () => {
        clearTimeout(waiter.timer);
        signal?.removeEventListener('abort', onAbort);
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.insert(waiter);
    });
    return this.take(true);
  }

  /** Resolves when no call runs or waits, or after `timeoutMs`. */
  idle(timeoutMs: number): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.idleWaiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      this.idleWaiters.add(wake);
    });
  }

  /** A place taken (`handedOver`: given by a finishing call, already counted). */
  private take(handedOver = false): () => void {
    if (!handedOver) this.running += 1;
    const started = this.clock.now();
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const took = this.clock.now() - started;
      this.serviceMs = this.serviceMs === 0 ? took : this.serviceMs * 0.8 + took * 0.2;
      // The place passes to the next call (`running` stays the same); one whose deadline has passed, but whose
      // timer has not fired yet, is dropped here instead of starting late.
      for (let next = this.queue.shift(); next; next = this.queue.shift()) {
        if (next.deadline - EXPIRY_MARGIN_MS <= this.clock.now()) {
          next.fail(this.expired());
          continue;
        }
        next.start();
        return;
      }
      this.running -= 1;
      if (this.running === 0) for (const wake of [...this.idleWaiters]) wake();
    };
  }

  /** Inserts in priority order, after the calls of the same class already waiting. */
  private insert(waiter: Waiter): void {
    let at = this.queue.length;
    while (at > 0 && this.queue[at - 1]!.priority > waiter.priority) at -= 1;
    this.queue.splice(at, 0, waiter);
  }

  private remove(waiter: Waiter): void {
    const at = this.queue.indexOf(waiter);
    if (at >= 0) this.queue.splice(at, 1);
    if (this.running === 0 && this.queue.length === 0) for (const wake of [...this.idleWaiters]) wake();
  }

  private refusal(): MeshError {
    // The calls ahead (running and waiting) take about serviceMs each, `limit` at a time.
    const ahead = this.running + this.queue.length;
    const estimate = ((this.serviceMs || 100) * ahead) / Math.max(1, this.options.limit);
    const retryAfterMs = Math.round(Math.min(30_000, Math.max(50, estimate)));
    return admissionRefusal(
      new MeshError(
        Code.RESOURCE_EXHAUSTED,
        `agent "${this.options.agent}" is busy: ${this.running} calls run and ${this.queue.length} wait, the most it takes; retry after ${retryAfterMs} ms or try another instance`,
        { retryAfterMs },
      ),
    );
  }

  private expired(): MeshError {
    return new MeshError(
      Code.DEADLINE_EXCEEDED,
      `the call's deadline passed while it waited for a place at agent "${this.options.agent}"; it did not run`,
    );
  }
}
