import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentSpec } from '../../src/core/agent-record.js';
import type { ControlPlaneClient, WatchMessage } from '../../src/control-plane/client.js';
import { Registrar } from '../../src/control-plane/registrar.js';
import { MemoryStore } from '../../src/control-plane/stores/memory-store.js';
import { Code, MeshError } from '../../src/core/errors.js';
import { EndpointCache } from '../../src/data-plane/endpoint-cache.js';
import { silentLogger } from '../../src/observability/logger.js';
import { heavySkill, largestSkills } from '../helpers/specs.js';
import { collector, startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

function spec(name: string, fields: Partial<AgentSpec> = {}): AgentSpec {
  return {
    type: 'worker',
    name,
    capabilities: [],
    labels: {},
    endpoint: '127.0.0.1:9',
    weight: 0,
    maxConcurrency: 0,
    description: '',
    subscriptions: [],
    skills: [],
    ...fields,
  };
}

/**
 * Watchers receive what they need, not the whole registry: a scope of target queries, agent ids and topics; a
 * large snapshot travels in bounded pieces; and an endpoint cache widens its scope on first use.
 */
describe('scoped watches', () => {
  let mesh: TestMesh;
  let store: MemoryStore;
  let registrar: Registrar;
  let watcher: ControlPlaneClient;
  const register = (fields: AgentSpec) =>
    registrar.register(
      { id: `spiffe://agentmesh.local/agent/${fields.name}`, name: fields.name, agentTypes: [fields.type] },
      fields,
      600_000,
    );

  beforeAll(async () => {
    store = new MemoryStore();
    mesh = await startTestMesh({ store: () => store });
    registrar = new Registrar({ store, state: mesh.controlPlane.state, logger: silentLogger() });
    watcher = await mesh.client('watcher');
    await register(spec('summarizer-eu', { type: 'summarizer', labels: { zone: 'eu' } }));
    await register(spec('summarizer-us', { type: 'summarizer', labels: { zone: 'us' } }));
    await register(spec('auditor-1', { type: 'auditor', subscriptions: [sub('tasks.*')] }));
    await register(spec('planner-1', { type: 'planner' }));
    await register(spec('lone-1', { type: 'lone' }));
  });

  afterAll(async () => {
    await mesh?.close();
  });

  it('sends only the agents a scope holds, then only the changes that concern them, including leaving it', async () => {
    const messages = collector<WatchMessage>();
    const stream = watcher.watch(0, (m) => messages.push(m), undefined, {
      scope: {
        targets: [{ type: 'summarizer', labelSelector: 'zone=eu' }],
        agentIds: ['planner-1'],
        topics: ['tasks.created'],
      },
    });
    try {
      const snapshot = await messages.next((m) => m.kind === 'snapshot');
      expect(snapshot.kind === 'snapshot' && snapshot.agents.map((a) => a.id).sort()).toEqual([
        'auditor-1',
        'planner-1',
        'summarizer-eu',
      ]);
      // Out of scope: not heard of. In scope: heard of. Leaving the scope (a label change): heard of.
      await register(spec('lone-1', { type: 'lone', labels: { v: '2' } }));
      await register(spec('summarizer-us', { type: 'summarizer', labels: { zone: 'eu' } }));
      await register(spec('summarizer-eu', { type: 'summarizer', labels: { zone: 'ap' } }));
      const left = await messages.next(
        (m) => m.kind === 'agent' && m.record.id === 'summarizer-eu' && m.record.spec.labels.zone === 'ap',
      );
      expect(left.kind).toBe('agent');
      const heard = messages.items
        .filter((m) => m.kind === 'agent')
        .map((m) => (m.kind === 'agent' ? m.record.id : ''));
      expect(heard).toEqual(['summarizer-us', 'summarizer-eu']);
    } finally {
      stream.cancel();
    }
  });

  it('refuses a scope that is not valid with INVALID_ARGUMENT, naming the fault', async () => {
    for (const [scope, why] of [
      [{ targets: [{ labelSelector: 'zone in (eu' }], agentIds: [], topics: [] }, /label selector/],
      [{ targets: [], agentIds: [], topics: ['tasks..created'] }, /invalid topic pattern/],
      [
        { targets: [], agentIds: Array.from({ length: 5000 }, (_, i) => `a-${i}`), topics: [] },
        /more than 4096/,
      ],
    ] as const) {
      const ended = new Promise<Error | undefined>((resolve) =>
        watcher.watch(0, () => undefined, resolve, { scope: { ...scope, agentIds: [...scope.agentIds] } }),
      );
      const error = await ended;
      expect(error).toBeInstanceOf(MeshError);
      expect((error as MeshError).code).toBe(Code.INVALID_ARGUMENT);
      expect((error as MeshError).message).toMatch(why);
    }
  });

  it('sends a registry larger than a message may be in pieces that a client assembles into one snapshot', async () => {
    // 48 agents of ~115 KiB specs: ~5.5 MB, over grpc-js's default 4 MiB receive limit as a single message.
    const skills = largestSkills();
    for (let i = 0; i < 48; i += 1) await register(spec(`heavy-${i}`, { type: 'heavy', skills }));
    const messages = collector<WatchMessage>();
    const stream = watcher.watch(0, (m) => messages.push(m));
    try {
      const snapshot = await messages.next((m) => m.kind === 'snapshot');
      expect(snapshot.kind === 'snapshot' && snapshot.agents.length).toBe(
        mesh.controlPlane.state.registry.size,
      );
      expect(messages.items.filter((m) => m.kind === 'snapshot')).toHaveLength(1);
    } finally {
      stream.cancel();
    }
    // The whole registry through an endpoint cache, as a command-line tool follows it.
    const cache = new EndpointCache({ client: watcher, logger: silentLogger() });
    try {
      await cache.start();
      expect([...cache.all()].filter((agent) => agent.spec.type === 'heavy')).toHaveLength(48);
    } finally {
      cache.close();
    }
  });

  it('an endpoint cache holds only its scope, and widens it on first use of a query, topic or agent', async () => {
    const cache = new EndpointCache({
      client: watcher,
      logger: silentLogger(),
      scope: { agentIds: ['watcher'] },
    });
    try {
      await cache.start();
      expect([...cache.all()]).toEqual([]);
      expect(cache.cover({ type: 'planner' })).toBeInstanceOf(Promise);
      await cache.cover({ type: 'planner' });
      expect(cache.cover({ type: 'planner' })).toBeUndefined();
      expect(cache.select({ type: 'planner' }).map((a) => a.id)).toEqual(['planner-1']);
      await cache.coverTopic('tasks.done');
      await cache.coverAgent('lone-1');
      expect([...cache.all()].map((a) => a.id).sort()).toEqual(['auditor-1', 'lone-1', 'planner-1']);
      // What the widened scope holds keeps changing with the registry.
      await register(spec('planner-2', { type: 'planner' }));
      await until(() => cache.get('planner-2') !== undefined, 'the new planner in the cache');
      await register(spec('other-heavy', { type: 'heavy', skills: [heavySkill('s', 1024)] }));
      expect(cache.get('other-heavy')).toBeUndefined();
      // An agent that leaves the scope is dropped: the control plane sends nothing more of it.
      await register(spec('gold-1', { type: 'tiered', labels: { tier: 'gold' } }));
      await cache.cover({ labelSelector: 'tier=gold' });
      expect(cache.get('gold-1')).toBeDefined();
      await register(spec('gold-1', { type: 'tiered', labels: { tier: 'silver' } }));
      await until(() => cache.get('gold-1') === undefined, 'the agent that left the scope dropped');
      // An entry the control plane would refuse is not added (it would get every wider watch refused).
      expect(cache.coverAgent('x'.repeat(300))).toBeUndefined();
      expect(cache.watchScope?.agentIds).not.toContain('x'.repeat(300));
    } finally {
      cache.close();
    }
  });
});

function sub(pattern: string) {
  return { pattern, group: '', maxInFlight: 0 };
}
