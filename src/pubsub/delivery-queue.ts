import { Code, MeshError } from '../core/errors.js';
import type { Pending, Route, Slot } from './delivery-state.js';
import { pickSlot } from './event-routing.js';

/** What the {@link DeliveryQueue} asks of the rest of the publisher. */
export interface DeliveryQueueHooks {
  /** The members an event of `topic` on `route` may go to (see `EventRouting.membersOf`). */
  membersOf(route: Route, topic: string): Slot[];
  /** Sends `pending` to `slot` now. */
  send(pending: Pending, slot: Slot): void;
  /** Gives up on `pending`: nobody on its route is left to take it. */
  deadLetter(pending: Pending, reason: string): void;
  /** Whether the connection to an agent was lost (see `pickSlot`). */
  unreachable?(agentId: string): boolean;
}

/**
 * The queues of the publisher's routes: events wait on their route in publish order and leave, oldest first, while
 * a member has room. Events with an ordering key go one at a time: the next with the same key waits until the one
 * before is finished ({@link DeliveryQueue.done}) for that route. The queue counts the events it holds (queued,
 * in flight or waiting to be retried), refuses more than `maxPending`, and tells {@link DeliveryQueue.flush} when
 * none is left. A route is pumped in a microtask, so that a burst of publishes and acks pumps it once.
 */
export class DeliveryQueue {
  private held = 0;
  private readonly flushWaiters = new Set<() => void>();

  private readonly unreachable: ((agentId: string) => boolean) | undefined;

  constructor(
    private readonly maxPending: number,
    private readonly hooks: DeliveryQueueHooks,
  ) {
    this.unreachable = hooks.unreachable?.bind(hooks);
  }

  /** Deliveries held: queued, in flight or waiting to be retried. */
  get pending(): number {
    return this.held;
  }

  /**
   * Checks that `count` more deliveries fit.
   * @throws MeshError RESOURCE_EXHAUSTED when the queue would hold more than `maxPending`.
   */
  admit(count: number): void {
    if (this.held + count > this.maxPending) {
      throw new MeshError(
        Code.RESOURCE_EXHAUSTED,
        `${this.held} deliveries are pending, the most this publisher holds; publish again when subscribers catch up`,
      );
    }
  }

  /** Queues a new event for its route; an ordering key already in flight makes it wait behind that event. */
  enqueue(pending: Pending): void {
    this.held += 1;
    const route = pending.route;
    const key = pending.event.key;
    if (key) {
      const queued = route.busyKeys.get(key);
      if (queued) {
        queued.push(pending);
        return;
      }
      route.busyKeys.set(key, []);
    }
    route.ready.push(pending);
    this.schedule(route);
  }

  /** Queues an event again for a retry, before the rest: it was published earlier (its key is still held). */
  requeue(pending: Pending): void {
    pending.route.ready.splice(pending.route.readyHead, 0, pending);
    this.schedule(pending.route);
  }

  /** Pumps `route` in a microtask (once, however often this is called before it runs). */
  schedule(route: Route): void {
    if (route.scheduled) return;
    route.scheduled = true;
    queueMicrotask(() => {
      route.scheduled = false;
      this.pump(route);
    });
  }

  /** The event is finished for its route: release the next event with its ordering key. */
  done(pending: Pending): void {
    this.held -= 1;
    const key = pending.event.key;
    if (key) {
      const queued = pending.route.busyKeys.get(key);
      const next = queued?.shift();
      if (next) {
        pending.route.ready.push(next);
        this.schedule(pending.route);
      } else {
        pending.route.busyKeys.delete(key);
      }
    }
    if (this.held === 0) for (const waiter of [...this.flushWaiters]) waiter();
  }

  /** Resolves true when the queue holds nothing (every event acknowledged or dead-lettered), false after `timeoutMs`. */
  async flush(timeoutMs: number): Promise<boolean> {
    if (this.held === 0) return true;
    return new Promise<boolean>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.flushWaiters.delete(done);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.flushWaiters.delete(done);
        resolve(false);
      }, timeoutMs);
      this.flushWaiters.add(done);
    });
  }

  /** Sends a route's ready events while its members have room, oldest first. */
  private pump(route: Route): void {
    while (route.readyHead < route.ready.length) {
      const pending = route.ready[route.readyHead]!;
      const members = this.hooks.membersOf(route, pending.event.topic);
      if (members.length === 0) {
        route.readyHead += 1;
        this.hooks.deadLetter(
          pending,
          pending.lastFailure || 'the subscription left the mesh before delivery',
        );
        continue;
      }
      const slot = pickSlot(members, pending.avoid, route.turn++, this.unreachable);
      if (!slot) break; // every member is at its limit: an ack will pump again
      route.readyHead += 1;
      this.hooks.send(pending, slot);
    }
    if (route.readyHead > 1024 && route.readyHead * 2 > route.ready.length) {
      route.ready = route.ready.slice(route.readyHead);
      route.readyHead = 0;
    }
  }
}
