import { eligible, type Endpoint, type LoadBalancer, type PickOptions } from './load-balancer.js';

/**
 * Smooth weighted round-robin (as in nginx): over any window, each endpoint gets calls in proportion to its weight,
 * interleaved rather than in bursts.
 */
export class WeightedBalancer implements LoadBalancer {
  readonly name = 'weighted';
  private endpoints: readonly Endpoint[] = [];
  private readonly current = new Map<string, number>();

  update(endpoints: readonly Endpoint[]): void {
    this.endpoints = endpoints;
    const ids = new Set(endpoints.map((endpoint) => endpoint.id));
    for (const id of this.current.keys()) if (!ids.has(id)) this.current.delete(id);
  }

  pick(options: PickOptions = {}): Endpoint | undefined {
    const candidates = eligible(this.endpoints, options.exclude);
    if (candidates.length === 0) return undefined;
    let total = 0;
    let best: Endpoint | undefined;
    let bestValue = -Infinity;
    for (const endpoint of candidates) {
      const weight = Math.max(1, endpoint.weight);
      const value = (this.current.get(endpoint.id) ?? 0) + weight;
      this.current.set(endpoint.id, value);
      total += weight;
      if (value > bestValue) {
        best = endpoint;
        bestValue = value;
      }
    }
    this.current.set(best!.id, bestValue - total);
    return best;
  }
}
