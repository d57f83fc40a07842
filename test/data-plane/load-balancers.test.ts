import { describe, expect, it } from 'vitest';
import { createBalancer } from '../../src/data-plane/create-balancer.js';
import { Code, MeshError } from '../../src/core/errors.js';
import { EndpointStats } from '../../src/data-plane/endpoint-stats.js';
import { BALANCER_NAMES, type BalancerName, type Endpoint } from '../../src/data-plane/load-balancer.js';

/** A deterministic random source (a linear congruential generator). */
function seeded(seed = 42): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

function endpoints(count: number, weights: number[] = []): Endpoint[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `agent-${i}`,
    weight: weights[i] ?? 100,
    reported: { inFlight: 0, queueDepth: 0 },
    stats: new EndpointStats({ now: () => 0 }),
  }));
}

function distribution(
  name: BalancerName,
  list: Endpoint[],
  picks: number,
  key?: (i: number) => string,
): Map<string, number> {
  const balancer = createBalancer(name, seeded());
  balancer.update(list);
  const counts = new Map<string, number>();
  for (let i = 0; i < picks; i += 1) {
    const chosen = balancer.pick(key ? { key: key(i) } : {})!;
    counts.set(chosen.id, (counts.get(chosen.id) ?? 0) + 1);
  }
  return counts;
}

describe('load balancers', () => {
  it('round-robin gives each endpoint the same share, in turn', () => {
    const counts = distribution('round-robin', endpoints(3), 300);
    expect([...counts.values()]).toEqual([100, 100, 100]);
  });

  it('weighted splits by weight, interleaved', () => {
    const list = endpoints(3, [100, 200, 700]);
    const balancer = createBalancer('weighted');
    balancer.update(list);
    const sequence = Array.from({ length: 10 }, () => balancer.pick()!.id);
    expect(sequence.filter((id) => id === 'agent-2')).toHaveLength(7);
    expect(sequence.filter((id) => id === 'agent-1')).toHaveLength(2);
    expect(sequence.filter((id) => id === 'agent-0')).toHaveLength(1);
    // Smooth: the heavy endpoint never takes more than 3 in a row out of 10.
    expect(sequence.join(',')).not.toMatch(/(agent-2,){4}/);
  });

  it('least-connections prefers the endpoint with the fewest calls, counting reported load', () => {
    const list = endpoints(3);
    list[0]!.stats.start();
    list[0]!.stats.start();
    list[1]!.reported = { inFlight: 1, queueDepth: 2 };
    const balancer = createBalancer('least-connections');
    balancer.update(list);
    expect(balancer.pick()!.id).toBe('agent-2');
    list[2]!.stats.start();
    list[2]!.stats.start();
    list[2]!.stats.start();
    list[2]!.stats.start();
    expect(balancer.pick()!.id).toBe('agent-0');
  });

  it('least-connections shares the work evenly among the endpoints tied for the fewest calls', () => {
    const list = endpoints(3);
    list[0]!.stats.start(); // busy: the other two are tied and take turns
    const balancer = createBalancer('least-connections');
    balancer.update(list);
    const picks = Array.from({ length: 10 }, () => balancer.pick()!.id);
    expect(picks.filter((id) => id === 'agent-1')).toHaveLength(5);
    expect(picks.filter((id) => id === 'agent-2')).toHaveLength(5);
  });

  it('p2c-ewma steers away from a slow endpoint without starving the others', () => {
    let now = 0;
    const clock = { now: () => now };
    const list = endpoints(4).map((endpoint) => ({ ...endpoint, stats: new EndpointStats(clock) }));
    for (const endpoint of list) {
      endpoint.stats.start();
      endpoint.stats.finish(endpoint.id === 'agent-3' ? 50 : 1, true);
    }
    now = 100;
    const counts = distribution('p2c-ewma', list, 4_000);
    expect(counts.get('agent-3') ?? 0).toBe(0); // it loses every comparison
    for (const id of ['agent-0', 'agent-1', 'agent-2']) expect(counts.get(id)!).toBeGreaterThan(1_000);
  });

  it('consistent hashing sticks a key to one instance, and moves only the lost instance’s keys', () => {
    const list = endpoints(5);
    const balancer = createBalancer('consistent-hash');
    balancer.update(list);
    const keys = Array.from({ length: 2_000 }, (_, i) => `conversation-${i}`);
    const before = new Map(keys.map((key) => [key, balancer.pick({ key })!.id]));
    expect(keys.every((key) => balancer.pick({ key })!.id === before.get(key))).toBe(true);
    const perInstance = new Map<string, number>();
    for (const id of before.values()) perInstance.set(id, (perInstance.get(id) ?? 0) + 1);
    for (const count of perInstance.values()) expect(count).toBeGreaterThan(250); // roughly even: 400 each
    balancer.update(list.filter((endpoint) => endpoint.id !== 'agent-2'));
    for (const key of keys) {
      const now = balancer.pick({ key })!.id;
      if (before.get(key) === 'agent-2') expect(now).not.toBe('agent-2');
      else expect(now).toBe(before.get(key));
    }
  });

  it.each(['round-robin', 'least-connections', 'weighted', 'p2c-ewma', 'consistent-hash'] as const)(
    '%s never picks an excluded endpoint, and picks nothing when all are excluded',
    (name) => {
      const list = endpoints(3);
      const balancer = createBalancer(name, seeded());
      balancer.update(list);
      for (let i = 0; i < 100; i += 1) {
        expect(balancer.pick({ exclude: new Set(['agent-0', 'agent-1']), key: `k${i}` })!.id).toBe('agent-2');
      }
      expect(balancer.pick({ exclude: new Set(list.map((e) => e.id)) })).toBeUndefined();
      balancer.update([]);
      expect(balancer.pick()).toBeUndefined();
    },
  );
});

describe('createBalancer', () => {
  it('creates every named strategy', () => {
    for (const name of BALANCER_NAMES) expect(createBalancer(name).name).toBe(name);
  });

  it('refuses an unknown name with INVALID_ARGUMENT naming the strategies', () => {
    const error = (() => {
      try {
        createBalancer('random' as BalancerName);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(MeshError);
    expect((error as MeshError).code).toBe(Code.INVALID_ARGUMENT);
    expect((error as MeshError).message).toContain(BALANCER_NAMES.join(', '));
  });
});

describe('endpoint statistics', () => {
  it('keep a stream in flight after its first-chunk latency is observed, until it ends', () => {
    const stats = new EndpointStats({ now: () => 0 });
    stats.start();
    stats.observe(40, true);
    expect(stats.inFlight).toBe(1);
    expect(stats.latencyMs).toBe(40);
    stats.end();
    expect(stats.inFlight).toBe(0);
    expect(stats.latencyMs).toBe(40);
  });

  it('take a slower latency at once and forget it gradually', () => {
    let now = 0;
    const stats = new EndpointStats({ now: () => now }, 1_000);
    stats.start();
    stats.finish(100, true);
    expect(stats.latencyMs).toBe(100);
    now = 1_000;
    stats.start();
    stats.finish(10, true);
    expect(stats.latencyMs).toBeCloseTo(100 * Math.exp(-1) + 10 * (1 - Math.exp(-1)), 5);
    expect(stats.inFlight).toBe(0);
  });
});
