import type { AckAnswer } from '../transport/delivery-codec.js';
import type { Logger } from '../observability/logger.js';
import type { DeliveryLink } from './delivery-link.js';
import type { DeliveryQueue } from './delivery-queue.js';
import type { DeliveryOutcome, Pending, Slot } from './delivery-state.js';

/** Options of {@link Redelivery}: the publisher's retry settings and the parts it reports to. */
export interface RedeliveryOptions {
  queue: Pick<DeliveryQueue, 'schedule' | 'requeue' | 'done'>;
  logger: Logger;
  /** Gives up on an event for its route (after the last attempt, or when the subscriber drops it). */
  deadLetter(pending: Pending, reason: string): void;
  /** Counts how a delivery ended (the publisher's stats and metrics). */
  count(outcome: DeliveryOutcome): void;
  /**
   * A delivery was lost with its link, or found no subscriber to go to: hold it for the subscriber's return (or
   * send it to another reachable member of its queue group), without consuming an attempt.
   */
  absent(pending: Pending, reason: string): void;
  /** The subscriber of a route answered (see `AbsentSubscribers.seen`). */
  seen?(pending: Pending): void;
  /** Delivery attempts per route before an event is dead-lettered (default 5). */
  maxAttempts?: number;
  /** How long a delivery may go unacknowledged before it is retried (default 30 s). */
  ackTimeoutMs?: number;
  /** First retry delay, doubling on each attempt up to `maxBackoffMs` (defaults 100 ms and 10 s). */
  backoffMs?: number;
  maxBackoffMs?: number;
  random?: () => number;
}

/**
 * Deliveries between their send and their ack, and what happens to one that fails. A delivery is answered by an
 * ack (delivered, refused, dropped or to be retried), by its ack deadline passing (a sweep every quarter of the ack
 * timeout, between 50 ms and 1 s), or by the loss of the link it went over. A failed delivery is retried after an
 * exponential backoff with equal jitter (or the subscriber's `retryAfterMs`), on another member of its queue group
 * when there is one; after `maxAttempts` it is dead-lettered.
 */
export class Redelivery {
  /**
   * By delivery number: a Map with number keys costs a fraction of one with string keys when it holds tens of
   * thousands of deliveries and churns through hundreds of thousands a second (the publisher's busiest structure).
   */
  private readonly waitingForAck = new Map<number, Pending>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly ackTimeoutMs: number;
  private nextDelivery = 0;
  private closed = false;

  constructor(private readonly options: RedeliveryOptions) {
    this.ackTimeoutMs = options.ackTimeoutMs ?? 30_000;
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, Math.min(1_000, this.ackTimeoutMs / 4)));
    this.sweeper.unref();
  }

  /** Sends the next attempt of `pending` to `slot` over `link`, and waits for its ack. */
  send(pending: Pending, slot: Slot, link: DeliveryLink): void {
    pending.attempt += 1;
    pending.delivery = this.nextDelivery++;
    pending.deliveryId = pending.delivery.toString(36);
    pending.slot = slot;
    pending.link = link;
    pending.ackDeadline = Date.now() + this.ackTimeoutMs;
    slot.inFlight += 1;
    this.waitingForAck.set(pending.delivery, pending);
    const queued = link.send({
      deliveryId: pending.deliveryId,
      attempt: pending.attempt,
      event: pending.wire,
      pattern: slot.subscription.pattern,
      group: slot.subscription.group,
    });
    if (!queued) {
      // A link closed under us (its agent moved): the delivery never left, so it goes again at no attempt's cost.
      this.release(pending);
      this.lost(pending, 'the delivery link was closed');
    }
  }

  /** A subscriber's answer to one delivery; one that comes after its delivery moved on is ignored. */
  onAck(ack: AckAnswer): void {
    const pending = this.waiting(ack.deliveryId);
    if (!pending) return; // answered after a timeout already moved it on, or not one of ours
    this.release(pending);
    this.options.seen?.(pending);
    switch (ack.outcome) {
      case 'ACK_OUTCOME_ACK':
        this.options.count('delivered');
        this.options.queue.done(pending);
        break;
      case 'ACK_OUTCOME_DROP':
        this.options.deadLetter(pending, ack.reason || 'the subscriber dropped it');
        break;
      case 'ACK_OUTCOME_REFUSED':
        this.options.count('refused');
        this.options.logger.warn(
          {
            eventId: pending.event.id,
            topic: pending.event.topic,
            subscriber: pending.slot?.agentId,
            reason: ack.reason,
          },
          'a subscriber refused an event',
        );
        this.options.queue.done(pending);
        break;
      default:
        this.fail(pending, ack.reason || 'the subscriber asked for a retry', true, ack.retryAfterMs);
    }
  }

  /** Whether the delivery `deliveryId` still waits for its ack from `link` (see `DeliveryLinkHandlers.wanted`). */
  wanted(link: DeliveryLink, deliveryId: string): boolean {
    return this.waiting(deliveryId)?.link === link;
  }

  /** The delivery an ack or a queued delivery names, if it still waits for its ack. */
  private waiting(deliveryId: string): Pending | undefined {
    const pending = this.waitingForAck.get(parseInt(deliveryId, 36));
    // The number found the candidate; the id must be exactly its own (`parseInt` reads "1z!" as 1z).
    return pending?.deliveryId === deliveryId ? pending : undefined;
  }

  /**
   * A link broke: everything sent over it and not yet answered is lost with it, and held for its subscriber (see
   * {@link Redelivery.lost}).
   */
  linkBroken(link: DeliveryLink, reason: string): void {
    // Breaks are rare: a scan will do.
    for (const pending of [...this.waitingForAck.values()]) {
      if (pending.link !== link) continue;
      this.release(pending);
      this.lost(pending, reason);
    }
  }

  /**
   * A delivery that did not reach a handler because its subscriber is absent (the link broke or could not connect,
   * or the subscriber left): the attempt (`attempted`: one was sent) does not count, and the delivery waits for the subscriber (or goes to
   * another member of its group) rather than burning its attempts in the first seconds of the backoff.
   */
  lost(pending: Pending, reason: string, attempted = true): void {
    if (attempted) pending.lost += 1;
    pending.avoid = pending.slot?.agentId;
    pending.slot = undefined;
    this.options.absent(pending, reason);
  }

  /**
   * A delivery failed: retry it after a backoff (on another member when possible), or dead-letter it after the
   * last attempt. `afterMs`, when positive, replaces the backoff (the subscriber asked for that delay).
   */
  fail(pending: Pending, reason: string, reachedHandler: boolean, afterMs = 0): void {
    pending.lastFailure = reason;
    pending.avoid = pending.slot?.agentId;
    pending.slot = undefined;
    const maxAttempts = this.options.maxAttempts ?? 5;
    if (pending.attempt - pending.lost >= maxAttempts) {
      this.options.deadLetter(pending, `${reason} (after ${pending.attempt} attempts)`);
      return;
    }
    this.options.count('retried');
    const delay = afterMs > 0 ? afterMs : this.backoff(pending.attempt);
    this.options.logger.debug(
      {
        eventId: pending.event.id,
        attempt: pending.attempt,
        reason,
        reachedHandler,
        retryInMs: Math.round(delay),
      },
      'event delivery will be retried',
    );
    if (this.closed) return; // a closed publisher schedules no retry
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      if (this.closed) return;
      this.options.queue.requeue(pending);
    }, delay);
    this.retryTimers.add(timer);
  }

  /** Stops the sweep and the retries waiting for their turn. */
  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const timer of this.retryTimers) clearTimeout(timer);
  }

  /** The delay before the retry that follows attempt `attempt`: `backoffMs` doubling, capped, equal jitter. */
  private backoff(attempt: number): number {
    const base = this.options.backoffMs ?? 100;
    const cap = this.options.maxBackoffMs ?? 10_000;
    const exponential = Math.min(cap, base * 2 ** Math.max(0, attempt - 1));
    const random = this.options.random ?? Math.random;
    // Equal jitter: at least half the backoff, so that retries never come back at once.
    return exponential / 2 + (random() * exponential) / 2;
  }

  /** Frees the slot a delivery held and stops waiting for its ack. */
  private release(pending: Pending): void {
    this.waitingForAck.delete(pending.delivery);
    if (pending.slot) {
      pending.slot.inFlight -= 1;
      this.options.queue.schedule(pending.route);
    }
    pending.link = undefined;
  }

  /** Retries deliveries whose ack is overdue. */
  private sweep(): void {
    const now = Date.now();
    for (const pending of this.waitingForAck.values()) {
      if (pending.ackDeadline > now) continue;
      this.release(pending);
      this.fail(pending, `no acknowledgement within ${this.ackTimeoutMs} ms`, true);
    }
  }
}
