import { Code, fail, ok, type Result, quote } from './errors.js';
import { validatePattern } from './topic.js';

/** One event subscription of an agent (see `Subscription` in proto/agentmesh/v1/types.proto). */
export interface Subscription {
  /** Topic pattern: `*` matches one segment, a final `>` the rest. */
  pattern: string;
  /** Queue group: subscriptions sharing it split the events; empty for every event. */
  group: string;
  /** Deliveries outstanding at once; 0 means {@link DEFAULT_MAX_IN_FLIGHT}. */
  maxInFlight: number;
}

export const DEFAULT_MAX_IN_FLIGHT = 64;
const MAX_SUBSCRIPTIONS = 64;
const MAX_IN_FLIGHT = 10_000;
const GROUP = /^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/;

/** The key that tells an agent's subscriptions apart: pattern and group. */
export function subscriptionKey(subscription: Pick<Subscription, 'pattern' | 'group'>): string {
  return `${subscription.pattern}|${subscription.group}`;
}

/**
 * Checks an agent's subscriptions: valid patterns, groups spelled like agent types, at most 64, each pattern and
 * group pair once, max in flight from 0 to 10,000. Returns INVALID_ARGUMENT naming the first problem.
 */
export function validateSubscriptions(subscriptions: readonly Subscription[]): Result<Subscription[]> {
  if (subscriptions.length > MAX_SUBSCRIPTIONS) {
    return fail(Code.INVALID_ARGUMENT, `more than ${MAX_SUBSCRIPTIONS} subscriptions`);
  }
  const seen = new Set<string>();
  for (const subscription of subscriptions) {
    const pattern = validatePattern(subscription.pattern);
    if (!pattern.ok) return pattern;
    if (subscription.group !== '' && !GROUP.test(subscription.group)) {
      return fail(
        Code.INVALID_ARGUMENT,
        `invalid queue group "${subscription.group.slice(0, 80)}": use 1-63 lowercase letters, digits, ".", "_" or "-"`,
      );
    }
    const limit = subscription.maxInFlight;
    if (!Number.isInteger(limit) || limit < 0 || limit > MAX_IN_FLIGHT) {
      return fail(Code.INVALID_ARGUMENT, `max in flight must be a whole number from 0 to ${MAX_IN_FLIGHT}`);
    }
    const key = subscriptionKey(subscription);
    if (seen.has(key)) {
      return fail(
        Code.INVALID_ARGUMENT,
        `subscription to ${quote(subscription.pattern)}${subscription.group ? ` in group ${quote(subscription.group)}` : ''} is listed twice`,
      );
    }
    seen.add(key);
  }
  return ok(subscriptions.map((s) => ({ pattern: s.pattern, group: s.group, maxInFlight: s.maxInFlight })));
}
