import type * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import type { ControlPlaneClient } from '../../src/control-plane/client.js';
import type { RateLimit } from '../../src/core/policy.js';
import { Code, type MeshError } from '../../src/core/errors.js';
import { MESH_CHANNEL_OPTIONS, createChannelCredentials } from '../../src/transport/credentials.js';
import { loadMeshProtos } from '../../src/transport/protos.js';
import { startTestMesh, type TestMesh, knows } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

const ID = (name: string) => `spiffe://agentmesh.local/agent/${name}`;

/** Per-caller rate limits from the control plane's policies, enforced by the callee over real calls. */
describe('per-caller rate limits', () => {
  let mesh: TestMesh;
  let admin: ControlPlaneClient;
  const agents: RunningAgent[] = [];
  let llm: RunningAgent;
  let first: RunningAgent;
  let second: RunningAgent;

  const limit = (fields: Partial<RateLimit> & Pick<RateLimit, 'id'>): RateLimit => ({
    callers: [],
    callerTypes: [],
    targetTypes: [],
    methods: [],
    requestsPerSecond: 0,
    burst: 0,
    tokensPerMinute: 0,
    ...fields,
  });

  const setLimits = async (rateLimits: RateLimit[]) => {
    await admin.setPolicies({ defaultEffect: 'allow', rules: [], rateLimits });
    const ids = rateLimits.map((l) => l.id).join(',');
    await until(
      () => (llm.cache.policies.rateLimits ?? []).map((l) => l.id).join(',') === ids,
      'the callee has the limits',
      10_000,
    );
  };

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
    llm = await start('llm-1', {
      methods: {
        complete: async () => ({ payload: Buffer.from('ok'), contentType: 'text/plain', tokens: 10 }),
        essay: async () => ({ payload: Buffer.from('long'), contentType: 'text/plain', tokens: 150 }),
      },
    });
    first = await start('caller-1');
    second = await start('caller-2');
    for (const caller of [first, second]) {
      await until(() => knows(caller, 'llm-1'), 'llm-1 known', 10_000);
    }
  });

  afterAll(async () => {
    admin?.close();
    await Promise.all(agents.map((agent) => agent.drain(0)));
    await mesh?.close();
  });

  it('refuses a caller over its calls per second with RESOURCE_EXHAUSTED and a retry-after hint; others go on', async () => {
    await setLimits([
      limit({ id: 'two-per-second', callers: [ID('caller-1')], requestsPerSecond: 0.5, burst: 2 }),
    ]);
    for (let i = 0; i < 2; i += 1) await first.mesh.call({ type: 'llm' }, 'complete', '');
    const refused = (await first.mesh
      .call({ type: 'llm' }, 'complete', '')
      .catch((e: unknown) => e)) as MeshError;
    expect(refused.code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(refused.message).toMatch(
      /rate limit "two-per-second": "spiffe:\/\/agentmesh\.local\/agent\/caller-1"/,
    );
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    for (let i = 0; i < 5; i += 1) await second.mesh.call({ type: 'llm' }, 'complete', '');
  });

  it('charges the tokens handlers report against tokens per minute, and sends them in a trailer', async () => {
    await setLimits([
      limit({ id: 'tokens', callerTypes: ['caller'], methods: ['essay'], tokensPerMinute: 100 }),
    ]);
    await second.mesh.call({ type: 'llm' }, 'essay', '');
    // 150 tokens used against a budget of 100 a minute: the next essay waits until the budget is positive again.
    const refused = (await second.mesh
      .call({ type: 'llm' }, 'essay', '')
      .catch((e: unknown) => e)) as MeshError;
    expect(refused.code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(refused.message).toMatch(/rate limit "tokens".*100 tokens per minute/);
    expect(refused.retryAfterMs).toBeGreaterThan(20_000);
    // Another method is not limited.
    await second.mesh.call({ type: 'llm' }, 'complete', '');
    // The trailer, as a plain gRPC client sees it.
    const { protos } = loadMeshProtos();
    const identity = await mesh.identity('caller-3');
    const raw = new protos.agentmesh.v1.Agent(
      llm.address,
      createChannelCredentials(identity, llm.identity.spiffeId.uri),
      MESH_CHANNEL_OPTIONS,
    );
    const trailer = await new Promise<grpc.Metadata>((resolve, reject) => {
      const call = raw.Invoke({ method: 'complete', payload: Buffer.alloc(0), contentType: '' }, (error) =>
        error ? reject(error) : undefined,
      );
      call.on('status', (status: grpc.StatusObject) => resolve(status.metadata));
    });
    raw.close();
    expect(trailer.get('x-agentmesh-tokens')).toEqual(['10']);
  });

  it('refuses limits that limit nothing or repeat an id', async () => {
    await expect(
      admin.setPolicies({ defaultEffect: 'allow', rules: [], rateLimits: [limit({ id: 'empty' })] }),
    ).rejects.toThrow(/rate limit "empty" limits nothing/);
    await expect(
      admin.setPolicies({
        defaultEffect: 'allow',
        rules: [],
        rateLimits: [limit({ id: 'x', requestsPerSecond: 1 }), limit({ id: 'x', requestsPerSecond: 2 })],
      }),
    ).rejects.toThrow(/rate limit id "x" is used twice/);
  });
});
