import { Code, MeshError } from '../core/errors.js';
import type { Pending, Route, Slot } from './delivery-state.js';
import { pickSlot } from './event-routing.js';

/** What the {@link DeliveryQueue} asks of the rest of the publisher. */
export interface DeliveryQueueHooks {
  /** The members an event of `topic` on `route` may go to (see `EventRouting.membersOf`). */
  membersOf(route: Route, topic: string): Slot[];
  /** Sends `pending` to `slot` now. */
  send(pending: Pending, slot: Slot): void;
  /** No member is left on `pending`'s route (its subscriber left the registry): hold it for the subscriber's return. */
  absent(pending: Pending, reason: string): void;
  /** Whether the connection to an agent was lost (see `pickSlot`). */
  unreachable?(agentId: string): boolean;
  /** Whether deliveries of `route` are held for an absent subscriber (see `AbsentSubscribers.holds`). */
  holds?(route: Route): boolean;
  /** An unexpected error while pumping a route (logged; it never escapes into the microtask). */
  error?(error: unknown): void;
}

/** The bounds of a {@link DeliveryQueue}. */
export interface DeliveryQueueLimits {
  /** Deliveries held at once. */
  maxPending: number;
  /** Payload bytes held at once, over all deliveries (an event on three routes counts three times). */
  maxPendingBytes: number;
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
  private heldBytes = 0;
  private readonly flushWaiters = new Set<() => void>();

  private readonly unreachable: ((agentId: string) => boolean) | undefined;

  constructor(
    private readonly limits: DeliveryQueueLimits,
    private readonly hooks: DeliveryQueueHooks,
  ) {
    this.unreachable = hooks.unreachable?.bind(hooks);
  }

  /** Deliveries held: queued, in flight or waiting to be retried. */
  get pending(): number {
    return this.held;
  }

  /** Payload bytes held, over all deliveries. */
  get pendingBytes(): number {
    return this.heldBytes;
  }

  /**
   * Checks that `count` more deliveries of `bytes` payload bytes each fit.
   * @throws MeshError RESOURCE_EXHAUSTED when the queue would hold more than `maxPending` deliveries or
   *   `maxPendingBytes` bytes.
   */
  admit(count: number, bytes = 0): void {
    const { maxPending, maxPendingBytes } = this.limits;
    const overCount = this.held + count > maxPending;
    if (!overCount && (count === 0 || this.heldBytes + count * bytes <= maxPendingBytes)) return;
    const what = overCount
      ? `${this.held} deliveries are pending and the limit is maxPending=${maxPending}`
      : `${this.heldBytes} payload bytes are pending and the limit is maxPendingBytes=${maxPendingBytes}`;
    throw new MeshError(
      Code.RESOURCE_EXHAUSTED,
      `event not accepted: ${what} (${count} more deliveries asked for). A subscriber is slow or unreachable: ` +
        'publish again once deliveries are acknowledged (await publisher.flush()), or raise the publisher option ' +
        `${overCount ? 'maxPending' : 'maxPendingBytes'}`,
    );
  }

  /** Queues a new event for its route; an ordering key already in flight makes it wait behind that event. */
  enqueue(pending: Pending): void {
    this.held += 1;
    this.heldBytes += pending.event.payload.length;
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
      try {
        this.pump(route);
      } catch (error) {
        this.hooks.error?.(error);
      }
    });
  }

  /** The event is finished for its route: release the next event with its ordering key. */
  done(pending: Pending): void {
    this.held -= 1;
    this.heldBytes -= pending.event.payload.length;
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
        this.hooks.absent(pending, 'the subscription is not in the registry (its agent left the mesh)');
        continue;
      }
      const slot = pickSlot(members, pending.avoid, route.turn++, this.unreachable);
      if (!slot) break; // every member is at its limit: an ack will pump again
      // Deliveries are already held for this route's absent subscriber: the rest wait with them for its return.
      if (this.hooks.holds?.(route) && this.unreachable?.(slot.agentId)) {
        route.readyHead += 1;
        this.hooks.absent(pending, pending.lastFailure || 'the subscriber is unreachable');
        continue;
      }
      route.readyHead += 1;
      this.hooks.send(pending, slot);
    }
    if (route.readyHead > 1024 && route.readyHead * 2 > route.ready.length) {
      route.ready = route.ready.slice(route.readyHead);
      route.readyHead = 0;
    }
  }
}
