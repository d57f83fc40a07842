import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import { Code, MeshError } from '../../src/core/errors.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

/**
 * An agent's view of the registry holds what it needs: itself, what it calls (declared, or from the first call),
 * the callers it served and the subscribers of the topics it publishes to; never the rest of the mesh.
 */
describe("an agent's view of the registry", () => {
  let mesh: TestMesh;
  const agents: RunningAgent[] = [];
  const start = async (name: string, options: Partial<Parameters<typeof startAgent>[0]> = {}) => {
    const agent = await startAgent({
      identity: await mesh.identity(name),
      controlPlane: mesh.controlPlane.address,
      type: name.replace(/-\d+$/, ''),
      methods: { ping: async () => ({ payload: Buffer.from(name), contentType: 'text/plain' }) },
      ...options,
    });
    agents.push(agent);
    return agent;
  };
  const held = (agent: RunningAgent) => [...agent.cache.all()].map((record) => record.id).sort();

  beforeAll(async () => {
    mesh = await startTestMesh();
    for (const name of ['summarizer-1', 'summarizer-2', 'auditor-1', 'bystander-1']) await start(name);
  });

  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.drain(0)));
    await mesh?.close();
  });

  it('holds itself and what it declared it calls, and follows a new query from its first call', async () => {
    const planner = await start('planner-1', { calls: [{ type: 'summarizer' }], publishes: [] });
    expect(held(planner)).toEqual(['planner-1', 'summarizer-1', 'summarizer-2']);
    // A query it did not declare: the first call waits until the control plane has sent its agents.
    const { agent } = await planner.mesh.call({ type: 'auditor' }, 'ping', '');
    expect(agent.id).toBe('auditor-1');
    expect(held(planner)).toEqual(['auditor-1', 'planner-1', 'summarizer-1', 'summarizer-2']);
    // What it follows keeps changing with the registry; what it does not follow never reaches it.
    await start('summarizer-3');
    await until(() => planner.cache.get('summarizer-3') !== undefined, 'the new summarizer in its view');
    await start('bystander-2');
    expect(planner.cache.get('bystander-2')).toBeUndefined();
    expect(planner.cache.get('bystander-1')).toBeUndefined();
  });

  it('learns the type a caller registered as from its first call', async () => {
    const auditor = agents.find((agent) => agent.name === 'auditor-1')!;
    const caller = await start('scribe-1', { publishes: [] });
    expect(auditor.cache.get('scribe-1')).toBeUndefined();
    await caller.mesh.call({ type: 'auditor' }, 'ping', '');
    expect(auditor.cache.get('scribe-1')?.spec.type).toBe('scribe');
  });

  it('holds the subscribers of the topics it declared it publishes to, and refuses to publish elsewhere', async () => {
    const received: string[] = [];
    await start('listener-1', {
      subscriptions: [{ pattern: 'tasks.*', handler: (event) => void received.push(event.topic) }],
    });
    await start('other-1', { subscriptions: [{ pattern: 'jobs.>', handler: () => undefined }] });
    const publisher = await start('announcer-1', { publishes: ['tasks.>'] });
    expect(held(publisher)).toEqual(['announcer-1', 'listener-1']);
    expect(await publisher.publish('tasks.created', { n: 1 })).toMatchObject({
      accepted: true,
      subscriptions: 1,
    });
    await until(() => received.length === 1, 'the event delivered');
    let refused: unknown;
    try {
      await publisher.publish('jobs.created', {});
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(MeshError);
    expect((refused as MeshError).code).toBe(Code.FAILED_PRECONDITION);
    expect((refused as MeshError).message).toMatch(
      /not among the topics this agent publishes to \(tasks\.>\)/,
    );
  });

  it('refuses a declared query or topic that is not valid, before it registers', async () => {
    await expect(start('broken-1', { calls: [{ labelSelector: 'zone in (eu' }] })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
    });
    await expect(start('broken-2', { publishes: ['tasks..x'] })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
    });
    expect((await (await mesh.client('broken-1')).discover({ type: 'broken' })).agents).toEqual([]);
  });
});
