import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import type { ControlPlaneClient } from '../../src/control-plane/client.js';
import { Code, type MeshError } from '../../src/core/errors.js';
import { startTestMesh, type TestMesh, knows } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

describe('a refusal passed on from a nested call is not taken for the callee refusing a call it never ran', () => {
  let mesh: TestMesh;
  let admin: ControlPlaneClient;
  const agents: RunningAgent[] = [];
  let client: RunningAgent;
  let runs = 0;

  beforeAll(async () => {
    mesh = await startTestMesh();
    admin = await mesh.client('control-plane');
    const start = async (name: string, options: Partial<Parameters<typeof startAgent>[0]> = {}) => {
      const agent = await startAgent({
        identity: await mesh.identity(name),
        controlPlane: mesh.controlPlane.address,
        type: name.replace(/-\d+$/, ''),
        ...options,
      });
      agents.push(agent);
      return agent;
    };
    const backend = await start('backend-1', {
      methods: { work: async () => ({ payload: Buffer.from('ok'), contentType: 'text/plain' }) },
    });
    for (const name of ['front-1', 'front-2']) {
      const front: RunningAgent = await start(name, {
        methods: {
          order: async () => {
            runs += 1; // a side effect: e.g. a payment recorded
            return front.mesh.call({ type: 'backend' }, 'work', 'x');
          },
        },
      });
      await until(() => knows(front, 'backend-1'), 'backend known', 10_000);
    }
    client = await start('client-1');
    await until(() => knows(client, 'front-1', 'front-2'), 'fronts', 10_000);
    await admin.setPolicies({
      defaultEffect: 'allow',
      rules: [],
      rateLimits: [
        {
          id: 'slow',
          callers: [],
          callerTypes: ['front'],
          targetTypes: [],
          methods: [],
          requestsPerSecond: 0.01,
          burst: 1,
          tokensPerMinute: 0,
        },
      ],
    });
    await until(() => (backend.cache.policies.rateLimits ?? []).length === 1, 'limits', 10_000);
  });

  afterAll(async () => {
    admin?.close();
    await Promise.all(agents.map((agent) => agent.drain(0)));
    await mesh?.close();
  });

  it('runs the handler once per non-idempotent call', async () => {
    // Use up both fronts' budgets at the backend (each front is its own caller there).
    await client.mesh.call({ type: 'front' }, 'order', 'a').catch(() => undefined);
    await client.mesh.call({ type: 'front' }, 'order', 'a').catch(() => undefined);
    runs = 0;
    const error = (await client.mesh
      .call({ type: 'front' }, 'order', 'b')
      .catch((e: unknown) => e)) as MeshError;
    expect(error.code).toBe(Code.RESOURCE_EXHAUSTED);
    // The front ran the call and passed on the backend's refusal: it must not be taken for the front refusing a
    // call it never ran, and run again at the other front.
    expect(runs).toBe(1);
    expect(error.retryAfterMs).toBeUndefined();
  });
});
