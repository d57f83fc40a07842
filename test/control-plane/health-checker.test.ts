import { describe, expect, it } from 'vitest';
import type { AgentRecord } from '../../src/core/agent-record.js';
import { HealthChecker } from '../../src/control-plane/health-checker.js';
import { Registry } from '../../src/control-plane/registry.js';
import { silentLogger } from '../../src/observability/logger.js';

function agent(id: string): AgentRecord {
  return {
    id,
    spec: {
      type: 't',
      name: id,
      capabilities: [],
      labels: {},
      endpoint: '127.0.0.1:1',
      weight: 100,
      maxConcurrency: 0,
      description: '',
      subscriptions: [],
      skills: [],
    },
    spiffeId: `spiffe://t/agent/${id}`,
    health: 'healthy',
    load: { inFlight: 0, queueDepth: 0 },
    registeredAt: 0,
    leaseExpiresAt: 0,
    leaseTtlMs: 1000,
    revision: 1,
  };
}

/** Drives the checker by hand: a fake clock, a probe whose answers the test sets, health written to the registry. */
function harness(settings = {}) {
  let now = 0;
  const registry = new Registry();
  registry.put(agent('a'));
  const answers = new Map<string, boolean>([['a', true]]);
  const transitions: string[] = [];
  const checker = new HealthChecker({
    registry,
    probe: async (target) => answers.get(target.id) ?? false,
    setHealth: async (id, health) => {
      transitions.push(`${now}:${health}`);
      registry.put({ ...registry.get(id)!, health });
    },
    settings: { intervalMs: 100, failureThreshold: 2, successThreshold: 2, holdDownMs: 1_000, ...settings },
    logger: silentLogger(),
    clock: { now: () => now },
    random: () => 0,
  });
  const step = async (ms: number) => {
    now += ms;
    checker.tick();
    for (let i = 0; i < 5; i += 1) await Promise.resolve();
  };
  return { registry, answers, transitions, step, setNow: (value: number) => (now = value) };
}

describe('active health checks', () => {
  it('marks an agent unhealthy after consecutive failures and healthy after consecutive passes', async () => {
    const { answers, transitions, step } = harness({ holdDownMs: 0 });
    await step(0);
    answers.set('a', false);
    await step(100);
    expect(transitions).toEqual([]);
    await step(100);
    expect(transitions).toEqual(['200:unhealthy']);
    answers.set('a', true);
    await step(100);
    await step(100);
    expect(transitions).toEqual(['200:unhealthy', '400:healthy']);
  });

  it('damps a flapping agent: each quick flip holds the new state longer', async () => {
    const { answers, transitions, step } = harness();
    await step(0);
    const flip = async (passing: boolean, checks: number) => {
      answers.set('a', passing);
      for (let i = 0; i < checks; i += 1) await step(100);
    };
    await flip(false, 2); // unhealthy at t=200
    await flip(true, 12); // hold of 1 s: healthy only once it has passed, at t=1200
    await flip(false, 25); // flipped again within twice the hold: the hold doubles to 2 s
    expect(transitions).toEqual(['200:unhealthy', '1200:healthy', '3200:unhealthy']);
  });

  it('leaves draining agents alone', async () => {
    const { registry, answers, transitions, step } = harness({ holdDownMs: 0 });
    registry.put({ ...registry.get('a')!, health: 'draining' });
    answers.set('a', false);
    for (let i = 0; i < 5; i += 1) await step(100);
    expect(transitions).toEqual([]);
  });
});
