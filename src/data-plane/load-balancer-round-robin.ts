import { eligible, type Endpoint, type LoadBalancer, type PickOptions } from './load-balancer.js';

/** Each endpoint in turn. */
export class RoundRobinBalancer implements LoadBalancer {
  readonly name = 'round-robin';
  private endpoints: readonly Endpoint[] = [];
  private next = 0;

  update(endpoints: readonly Endpoint[]): void {
    this.endpoints = endpoints;
  }

  pick(options: PickOptions = {}): Endpoint | undefined {
    const candidates = eligible(this.endpoints, options.exclude);
    if (candidates.length === 0) return undefined;
    const chosen = candidates[this.next % candidates.length]!;
    this.next = (this.next + 1) % Number.MAX_SAFE_INTEGER;
    return chosen;
  }
}
