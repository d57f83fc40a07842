import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import type {
  AgentDetailView,
  PoliciesView,
  TopicsView,
  TopologyView,
} from '../../src/control-plane/operations-view.js';
import { silentLogger } from '../../src/observability/logger.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';

describe("the dashboard's JSON for drilling down", () => {
  let mesh: TestMesh;
  let origin: string;
  const agents: RunningAgent[] = [];
  const get = async <T>(path: string): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${origin}${path}`);
    return { status: response.status, body: (await response.json()) as T };
  };

  beforeAll(async () => {
    mesh = await startTestMesh({ httpListen: '127.0.0.1:0' });
    origin = mesh.controlPlane.httpUrl!;
    for (const [name, group] of [
      ['audit-1', ''],
      ['audit-2', 'auditors'],
    ] as const) {
      agents.push(
        await startAgent({
          identity: await mesh.identity(name),
          controlPlane: mesh.controlPlane.address,
          type: 'audit',
          labels: { demo: 'fails-on-purpose' },
          methods: { query: async () => ({ payload: Buffer.from('ok'), contentType: 'text/plain' }) },
          subscriptions: [{ pattern: 'tasks.>', group, handler: async () => {} }],
          logger: silentLogger(),
        }),
      );
    }
    const client = await mesh.client('audit-1');
    await client.heartbeat('audit-1', undefined, false, [
      {
        calleeId: 'audit-2',
        calleeType: 'audit',
        method: 'query',
        calls: 1,
        errors: 1,
        latencyMsSum: 40,
        latencyMsMax: 40,
        lastError: 'INVALID_ARGUMENT: a blank page',
      },
    ]);
  });

  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.drain(0)));
    await mesh?.close();
  });

  it("answers an agent's page: its card, labels, subscriptions, calls in and out with percentiles, per minute", async () => {
    const { status, body } = await get<AgentDetailView>('/api/agent?id=audit-2&minutes=15');
    expect(status).toBe(200);
    expect(body.rangeMinutes).toBe(15);
    expect(body.agent).toMatchObject({ id: 'audit-2', type: 'audit', labels: { demo: 'fails-on-purpose' } });
    expect(body.agent.certificateExpiresAt).toBeGreaterThan(Date.now());
    expect(body.subscriptions).toEqual([{ pattern: 'tasks.>', group: 'auditors', maxInFlight: 0 }]);
    expect(body.callsIn).toHaveLength(1);
    expect(body.callsIn[0]).toMatchObject({
      from: 'audit-1',
      calls: 1,
      errors: 1,
      latencyMsP50: 40,
      latencyMsP99: 40,
      lastError: 'INVALID_ARGUMENT: a blank page',
    });
    // The failure of its incoming call is among its problems too, not only its caller's.
    expect(body.errors[0]).toMatchObject({ kind: 'call-failures', agentId: 'audit-1', peerId: 'audit-2' });
    expect(body.callsOut).toEqual([]);
    expect(body.calls).toHaveLength(60); // the charts show the hour, whatever the range of the tables
    expect(body.calls.at(-1)).toMatchObject({ callsIn: 1, errorsIn: 1 });
    expect(body.load.length).toBeGreaterThan(0);
    const caller = await get<AgentDetailView>('/api/agent?id=audit-1');
    expect(caller.body.rangeMinutes).toBe(60);
    expect(caller.body.callsOut[0]).toMatchObject({ to: 'audit-2' });
    expect(caller.body.errors[0]).toMatchObject({ kind: 'call-failures', agentId: 'audit-1' });
  });

  it('answers 404 for an agent that is not registered', async () => {
    const { status, body } = await get<{ error: string }>('/api/agent?id=nobody');
    expect(status).toBe(404);
    expect(body.error).toContain('nobody');
  });

  it('answers the topics with their subscribers and groups, and the subscriptions as event edges', async () => {
    const topics = (await get<TopicsView>('/api/topics')).body;
    expect(topics.topics).toHaveLength(1);
    expect(topics.topics[0]).toMatchObject({
      pattern: 'tasks.>',
      groups: [{ group: 'auditors', members: 1 }],
      ungrouped: 1,
    });
    expect(topics.topics[0]!.subscribers.map((s) => s.agentId)).toEqual(['audit-1', 'audit-2']);
    const topology = (await get<TopologyView>('/api/topology')).body;
    expect(topology.eventEdges).toEqual([
      { topic: 'tasks.>', toType: 'audit', subscribers: ['audit-1', 'audit-2'], groups: ['auditors'] },
    ]);
  });

  it('answers the topology over a range of the history, capped at the hour it keeps', async () => {
    const live = (await get<TopologyView>('/api/topology')).body;
    expect(live.rangeMinutes).toBeUndefined();
    expect(live.windowSeconds).toBe(60);
    const range = (await get<TopologyView>('/api/topology?minutes=500')).body;
    expect(range.rangeMinutes).toBe(60);
    expect(range.windowSeconds).toBe(3_600);
    expect(range.agentEdges[0]).toMatchObject({ from: 'audit-1', to: 'audit-2', calls: 1 });
  });

  it('says that there is no durable event store when the control plane has none', async () => {
    expect((await get<{ enabled: boolean }>('/api/events')).body).toEqual({ enabled: false });
  });

  it('answers the policies in force', async () => {
    const { body } = await get<PoliciesView>('/api/policies');
    expect(body.policies.defaultEffect).toBe('allow');
    expect(body.policies.rules).toEqual([]);
  });
});
