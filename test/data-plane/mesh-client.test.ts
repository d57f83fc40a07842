import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlPlaneClient } from '../../src/control-plane/client.js';
import { EndpointCache } from '../../src/data-plane/endpoint-cache.js';
import { MeshClient } from '../../src/data-plane/mesh-client.js';
import { Code, type MeshError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { RunningServer } from '../../src/transport/server.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

describe('mesh client over real agents', () => {
  let mesh: TestMesh;
  let cache: EndpointCache;
  let client: MeshClient;
  const servers = new Map<string, RunningServer>();
  const registrations = new Map<string, ControlPlaneClient>();

  async function addAgent(name: string, type = 'echo', weight = 0): Promise<void> {
    const { server } = await mesh.agentServer(name, [type]);
    const control = await mesh.client(name, [type]);
    await control.register({ type, name, endpoint: server.address, weight }, 60_000);
    servers.set(name, server);
    registrations.set(name, control);
  }

  beforeAll(async () => {
    mesh = await startTestMesh();
    for (const name of ['echo-a', 'echo-b', 'echo-c']) await addAgent(name);
    const identity = await mesh.identity('caller');
    cache = new EndpointCache({ client: await mesh.client('caller'), logger: silentLogger() });
    await cache.start();
    client = new MeshClient({
      identity,
      cache,
      logger: silentLogger(),
      outliers: { consecutiveFailures: 3 },
    });
  });

  afterAll(async () => {
    client?.close();
    cache?.close();
    await mesh?.close();
  });

  /** Makes `calls` calls, `concurrency` at a time, and counts which agent answered. */
  const count = async (
    calls: number,
    options: Parameters<MeshClient['call']>[3] = {},
    type = 'echo',
    concurrency = 1,
  ) => {
    const counts = new Map<string, number>();
    for (let i = 0; i < calls; i += concurrency) {
      const batch = Array.from({ length: Math.min(concurrency, calls - i) }, () =>
        client.call({ type }, 'ping', 'hi', options),
      );
      for (const result of await Promise.all(batch)) {
        const name = result.payload.toString();
        counts.set(name, (counts.get(name) ?? 0) + 1);
      }
    }
    return counts;
  };

  it('round-robin spreads calls evenly across the instances', async () => {
    const counts = await count(300, { balancer: 'round-robin' });
    expect([...counts.entries()].sort()).toEqual([
      ['echo-a', 100],
      ['echo-b', 100],
      ['echo-c', 100],
    ]);
  });

  it('weighted follows the registered weights', async () => {
    await addAgent('heavy-1', 'weighted', 300);
    await addAgent('light-1', 'weighted', 100);
    await until(() => cache.select({ type: 'weighted' }).length === 2);
    const counts = await count(400, { balancer: 'weighted' }, 'weighted');
    expect(counts.get('heavy-1')).toBe(300);
    expect(counts.get('light-1')).toBe(100);
  });

  it('consistent hashing keeps a conversation on one instance', async () => {
    const first = await client.call({ type: 'echo' }, 'ping', 'x', {
      balancer: 'consistent-hash',
      key: 'conversation-7',
    });
    for (let i = 0; i < 20; i += 1) {
      const again = await client.call({ type: 'echo' }, 'ping', 'x', {
        balancer: 'consistent-hash',
        key: 'conversation-7',
      });
      expect(again.agent.id).toBe(first.agent.id);
    }
  });

  it('the default strategy (p2c on peak EWMA) spreads concurrent calls over every instance', async () => {
    const counts = await count(300, {}, 'echo', 10);
    expect(counts.size).toBe(3);
  });

  it('answers a query nothing matches with UNAVAILABLE naming it', async () => {
    const error = (await client.call({ type: 'nobody' }, 'ping', 'x').catch((e: unknown) => e)) as MeshError;
    expect(error.code).toBe(Code.UNAVAILABLE);
    expect(error.message).toMatch(/no healthy agent for type nobody/);
  });

  it('passes the callee’s own error through without failing over', async () => {
    const error = (await client
      .call({ type: 'echo' }, 'no-such-method', 'x', { idempotent: true })
      .catch((e: unknown) => e)) as MeshError;
    expect(error.code).toBe(Code.UNIMPLEMENTED);
  });

  it('fails over when an instance dies mid-run: no idempotent call fails', async () => {
    let failures = 0;
    const calls = [];
    for (let i = 0; i < 200; i += 1) {
      if (i === 50) await servers.get('echo-b')!.shutdown(0); // gone, but still registered until its lease ends
      calls.push(
        client
          .call({ type: 'echo' }, 'ping', 'x', { idempotent: true, balancer: 'round-robin' })
          .catch(() => {
            failures += 1;
          }),
      );
      if (i % 10 === 0) await Promise.all(calls.splice(0));
    }
    await Promise.all(calls);
    expect(failures).toBe(0);
  });

  it('ejects the dead instance after consecutive failures: calls stop trying it', async () => {
    // Without ejection, round-robin would still try the dead instance every third call and fail over from it;
    // ejected, it is not tried at all, so every call succeeds at its first attempt.
    const attempts: number[] = [];
    for (let i = 0; i < 60; i += 1) {
      const result = await client.call({ type: 'echo' }, 'ping', 'x', {
        idempotent: true,
        balancer: 'round-robin',
      });
      expect(result.agent.id).not.toBe('echo-b');
      attempts.push(result.attempts);
    }
    expect(attempts.every((n) => n === 1)).toBe(true);
  });

  it('keeps calling the last known instances while the control plane is down', async () => {
    await mesh.controlPlane.close(0);
    const counts = await count(30, { idempotent: true }, 'echo', 10);
    expect([...counts.keys()].sort()).toEqual(['echo-a', 'echo-c']);
  });
});
