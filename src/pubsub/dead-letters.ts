import { randomUUID } from 'node:crypto';
import type { Logger } from '../observability/logger.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import type { DeliveryOutcome, Pending, Route } from './delivery-state.js';
import { DEAD_LETTER_PREFIX, deadLetterTopic, type DeadLetterInfo, type MeshEvent } from './event.js';

/** The most dead letters kept when no subscription of their dead-letter topic takes them. */
export const MAX_DEAD_LETTERS_KEPT = 1_000;

/** Options of {@link DeadLetters}: the publisher's identity and the parts a dead letter goes through. */
export interface DeadLettersOptions {
  /** The publisher's identity: its SPIFFE ID (read at each dead letter) publishes every dead letter. */
  identity: Pick<MeshIdentity, 'spiffeId'>;
  logger: Logger;
  /** Finishes the original event for its route (see `DeliveryQueue.done`). */
  done(pending: Pending): void;
  /** The SPIFFE ID of an ungrouped route's subscriber (see `EventRouting.subscriberOf`). */
  subscriberOf(route: Route): string;
  /** The routes of a topic (see `EventRouting.routesFor`). */
  routesFor(topic: string): Route[];
  /** Publishes a dead letter to the routes of its topic. */
  publish(letter: MeshEvent, routes: Route[]): void;
  /** Counts the dead letter (the publisher's stats and metrics). */
  count(outcome: DeliveryOutcome): void;
}

/**
 * Where events go when their route gives up on them: to `dead-letter.<topic>` under a new id, with the reason,
 * the attempts and the subscription that failed them ({@link DeadLetterInfo}). A dead letter nobody subscribes to,
 * or one that itself fails, is kept here instead (the latest {@link MAX_DEAD_LETTERS_KEPT}), never dead-lettered
 * again, so that a failing dead-letter subscriber cannot make a loop.
 */
export class DeadLetters {
  private readonly kept: MeshEvent[] = [];

  constructor(private readonly options: DeadLettersOptions) {}

  /** Dead letters that no subscription of their dead-letter topic received, oldest first. */
  get unclaimed(): readonly MeshEvent[] {
    return this.kept;
  }

  /** Sends the event to `dead-letter.<topic>` with the reason (or keeps it, when nobody subscribes there). */
  deadLetter(pending: Pending, reason: string): void {
    this.options.count('dead_lettered');
    const original = pending.event;
    const slot = pending.slot;
    const subscriberId = slot?.spiffeId ?? this.options.subscriberOf(pending.route);
    const info: DeadLetterInfo = {
      originalEventId: original.id,
      originalTopic: original.topic,
      reason,
      attempts: pending.attempt,
      subscriber: subscriberId,
      pattern: slot?.subscription.pattern ?? pending.route.pattern ?? '',
      group: pending.route.group,
      deadLetteredAt: Date.now(),
    };
    this.options.logger.warn({ eventId: original.id, topic: original.topic, ...info }, 'event dead-lettered');
    this.options.done(pending);
    if (original.topic.startsWith(`${DEAD_LETTER_PREFIX}.`)) {
      this.keep({ ...original, deadLetter: info });
      return; // a dead letter that fails is kept here, never dead-lettered again
    }
    const letter: MeshEvent = {
      ...original,
      id: randomUUID(),
      topic: deadLetterTopic(original.topic),
      publisher: this.options.identity.spiffeId.uri,
      deadLetter: info,
    };
    const routes = this.options.routesFor(letter.topic);
    if (routes.length === 0) {
      this.keep(letter);
      return;
    }
    try {
      this.options.publish(letter, routes);
    } catch (error) {
      // The pending bound is full: kept here rather than thrown into the timer or stream that gave up on it.
      this.options.logger.warn(
        { eventId: letter.id, err: error },
        'dead letter kept: it could not be queued',
      );
      this.keep(letter);
    }
  }

  private keep(letter: MeshEvent): void {
    this.kept.push(letter);
    if (this.kept.length > MAX_DEAD_LETTERS_KEPT) this.kept.shift();
  }
}
