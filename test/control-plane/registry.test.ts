import { describe, expect, it } from 'vitest';
import type { AgentRecord } from '../../src/core/agent-record.js';
import { validateSpec } from '../../src/core/agent-record.js';
import { parseLabelSelector } from '../../src/core/label-selector.js';
import { Registry } from '../../src/control-plane/registry.js';

function record(
  id: string,
  type: string,
  capabilities: string[],
  labels: Record<string, string>,
  health: AgentRecord['health'] = 'healthy',
): AgentRecord {
  return {
    id,
    spec: {
      type,
      name: id,
      capabilities,
      labels,
      endpoint: '127.0.0.1:1',
      weight: 100,
      maxConcurrency: 0,
      description: '',
      subscriptions: [],
      skills: [],
    },
    spiffeId: `spiffe://t/agent/${id}`,
    health,
    load: { inFlight: 0, queueDepth: 0 },
    registeredAt: 0,
    leaseExpiresAt: 0,
    leaseTtlMs: 1000,
    revision: 1,
  };
}

describe('registry', () => {
  const selector = (text: string) => {
    const parsed = parseLabelSelector(text);
    if (!parsed.ok) throw parsed.error;
    return parsed.value;
  };

  it('answers discovery from its indexes, healthy only unless asked, ordered by id', () => {
    const registry = new Registry();
    registry.put(record('b', 'summarizer', ['summarize'], { zone: 'eu' }));
    registry.put(record('a', 'summarizer', ['summarize', 'translate'], { zone: 'us' }));
    registry.put(record('c', 'translator', ['translate'], { zone: 'eu' }, 'unhealthy'));
    registry.put(record('d', 'summarizer', ['summarize'], { zone: 'eu' }, 'draining'));
    const ids = (query: Parameters<Registry['discover']>[0]) => registry.discover(query).map((r) => r.id);
    expect(ids({ type: 'summarizer' })).toEqual(['a', 'b']);
    expect(ids({ type: 'summarizer', includeUnhealthy: true })).toEqual(['a', 'b', 'd']);
    expect(ids({ capabilities: ['translate'] })).toEqual(['a']);
    expect(ids({ capabilities: ['translate'], includeUnhealthy: true })).toEqual(['a', 'c']);
    expect(ids({ selector: selector('zone=eu') })).toEqual(['b']);
    expect(ids({ selector: selector('zone in (eu,us)'), type: 'summarizer' })).toEqual(['a', 'b']);
    expect(ids({ selector: selector('zone!=eu') })).toEqual(['a']);
    expect(ids({ type: 'nobody' })).toEqual([]);
    expect(registry.countByHealth().get('healthy')).toBe(2);
  });

  it('reindexes a replaced record and forgets a removed one', () => {
    const registry = new Registry();
    registry.put(record('a', 'summarizer', ['summarize'], { zone: 'eu' }));
    registry.put(record('a', 'translator', ['translate'], { zone: 'us' }));
    expect(registry.discover({ type: 'summarizer' })).toEqual([]);
    expect(registry.discover({ selector: selector('zone=eu') })).toEqual([]);
    expect(registry.discover({ type: 'translator' }).map((r) => r.id)).toEqual(['a']);
    expect(registry.remove('a')?.id).toBe('a');
    expect(registry.discover({})).toEqual([]);
    expect(registry.size).toBe(0);
    expect(registry.countByHealth().get('healthy')).toBe(0);
  });
});

describe('agent spec validation', () => {
  const base = {
    type: 'summarizer',
    name: 'sum-1',
    capabilities: ['summarize', 'summarize'],
    labels: { zone: 'eu' },
    endpoint: '127.0.0.1:7501',
    weight: 0,
    maxConcurrency: 4,
    description: 'x',
    skills: [],
    subscriptions: [{ pattern: 'tasks.*', group: '', maxInFlight: 0 }],
  };

  it('normalizes a valid spec', () => {
    const valid = validateSpec(base);
    expect(valid.ok && valid.value).toMatchObject({ weight: 100, capabilities: ['summarize'] });
  });

  it.each([
    [{ type: '' }, /type/],
    [{ name: '../x' }, /invalid name/],
    [{ endpoint: '127.0.0.1' }, /endpoint/],
    [{ endpoint: '127.0.0.1:70000' }, /endpoint/],
    [{ capabilities: ['has space'] }, /capability/],
    [{ labels: { 'bad key': 'x' } }, /label key/],
    [{ labels: { zone: 'bad value' } }, /invalid value/],
    [{ weight: -1 }, /weight/],
    [{ description: 'x'.repeat(2000) }, /description/],
    [{ subscriptions: [{ pattern: 'tasks.>.x', group: '', maxInFlight: 0 }] }, /invalid topic pattern/],
    [{ subscriptions: [{ pattern: 'tasks.*', group: 'Bad Group', maxInFlight: 0 }] }, /invalid queue group/],
    [{ subscriptions: [{ pattern: 'tasks.*', group: '', maxInFlight: 20_000 }] }, /max in flight/],
    [
      {
        subscriptions: [
          { pattern: 'a', group: '', maxInFlight: 0 },
          { pattern: 'a', group: '', maxInFlight: 5 },
        ],
      },
      /listed twice/,
    ],
  ])('rejects %j', (change, message) => {
    const result = validateSpec({ ...base, ...change });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message).toMatch(message);
  });
});
