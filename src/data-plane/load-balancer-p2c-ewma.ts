import { eligible, type Endpoint, type LoadBalancer, type PickOptions } from './load-balancer.js';

/**
 * Power of two choices on peak-EWMA latency (the default): pick two endpoints at random and take the one with
 * the lower cost (latency estimate times calls in flight plus one). It avoids slow and busy instances without
 * herding every caller onto the single best one.
 */
export class P2cEwmaBalancer implements LoadBalancer {
  readonly name = 'p2c-ewma';
  private endpoints: readonly Endpoint[] = [];

  constructor(private readonly random: () => number = Math.random) {}

  update(endpoints: readonly Endpoint[]): void {
    this.endpoints = endpoints;
  }

  pick(options: PickOptions = {}): Endpoint | undefined {
    const candidates = eligible(this.endpoints, options.exclude);
    if (candidates.length <= 1) return candidates[0];
    const first = Math.floor(this.random() * candidates.length);
    let second = Math.floor(this.random() * (candidates.length - 1));
    if (second >= first) second += 1;
    const a = candidates[first]!;
    const b = candidates[second]!;
    return a.stats.cost() <= b.stats.cost() ? a : b;
  }
}
