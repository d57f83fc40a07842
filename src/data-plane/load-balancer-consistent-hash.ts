import { createHash } from 'node:crypto';
import { eligible, type Endpoint, type LoadBalancer, type PickOptions } from './load-balancer.js';
import { RoundRobinBalancer } from './load-balancer-round-robin.js';

function score(key: string, id: string): bigint {
  return createHash('sha256').update(key).update('\0').update(id).digest().readBigUInt64BE(0);
}

/**
 * Consistent hashing on a key (rendezvous hashing): a key always goes to the endpoint with the highest
 * hash(key, endpoint), so a conversation sticks to one instance, and when an instance leaves only the keys it had
 * move (each to its own next best). Calls without a key go round-robin.
 */
export class ConsistentHashBalancer implements LoadBalancer {
  readonly name = 'consistent-hash';
  private endpoints: readonly Endpoint[] = [];
  private readonly fallback = new RoundRobinBalancer();

  update(endpoints: readonly Endpoint[]): void {
    this.endpoints = endpoints;
    this.fallback.update(endpoints);
  }

  pick(options: PickOptions = {}): Endpoint | undefined {
    if (options.key === undefined) return this.fallback.pick(options);
    let best: Endpoint | undefined;
    let bestScore = -1n;
    for (const endpoint of eligible(this.endpoints, options.exclude)) {
      const value = score(options.key, endpoint.id);
      if (value > bestScore) {
        best = endpoint;
        bestScore = value;
      }
    }
    return best;
  }
}
