import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import { EndpointCache } from '../../src/data-plane/endpoint-cache.js';
import { MeshClient } from '../../src/data-plane/mesh-client.js';
import { Code, type MeshError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/observability/logger.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

const json = (value: unknown) => ({
  payload: Buffer.from(JSON.stringify(value)),
  contentType: 'application/json',
});

describe('agents calling agents through the runtime', () => {
  let mesh: TestMesh;
  const agents: RunningAgent[] = [];
  let caller: MeshClient;
  let callerCache: EndpointCache;
  /** Calls inside slow-1's handler, which holds them until `release` is called. */
  let waiting = 0;
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));

  async function agent(
    name: string,
    type: string,
    methods: Parameters<typeof startAgent>[0]['methods'],
  ): Promise<RunningAgent> {
    const running = await startAgent({
      identity: await mesh.identity(name),
      controlPlane: mesh.controlPlane.address,
      type,
      methods,
    });
    agents.push(running);
    return running;
  }

  beforeAll(async () => {
    mesh = await startTestMesh();
    const pingAgent: RunningAgent = await agent('ping-1', 'ping', {
      bounce: async () =>
        json((await pingAgent.mesh.call({ type: 'pong' }, 'bounce', {})).payload.toString()),
    });
    const pongAgent: RunningAgent = await agent('pong-1', 'pong', {
      bounce: async () =>
        json((await pongAgent.mesh.call({ type: 'ping' }, 'bounce', {})).payload.toString()),
    });
    await agent('inner-1', 'inner', {
      report: async (_request, call) =>
        json({ deadline: call.deadline, context: call.context, caller: call.caller.uri }),
    });
    const outer: RunningAgent = await agent('outer-1', 'outer', {
      relay: async () => outer.mesh.call({ type: 'inner' }, 'report', {}),
    });
    await agent('slow-1', 'slow', {
      wait: async (request) => {
        waiting += 1;
        await released;
        return request;
      },
    });
    const identity = await mesh.identity('origin');
    callerCache = new EndpointCache({ client: await mesh.client('origin'), logger: silentLogger() });
    await callerCache.start();
    caller = new MeshClient({ identity, cache: callerCache, logger: silentLogger() });
    await until(() =>
      ['ping', 'pong', 'inner', 'outer', 'slow'].every((type) => callerCache.select({ type }).length === 1),
    );
    await until(() =>
      agents.every(
        (a) =>
          a.cache.select({ type: 'inner' }).length === 1 && a.cache.select({ type: 'pong' }).length === 1,
      ),
    );
  });

  afterAll(async () => {
    release();
    caller?.close();
    callerCache?.close();
    await Promise.all(agents.map((a) => a.drain(0)));
    await mesh?.close();
  });

  it('carries trace, conversation, caller chain and deadline into the calls a handler makes', async () => {
    const before = Date.now();
    const result = await caller.call(
      { type: 'outer' },
      'relay',
      {},
      { timeoutMs: 3_000, conversationId: 'conv-42' },
    );
    const seen = JSON.parse(result.payload.toString()) as {
      deadline: number;
      caller: string;
      context: { conversationId: string; chain: string[]; traceparent: string };
    };
    expect(seen.caller).toBe('spiffe://agentmesh.local/agent/outer-1');
    expect(seen.context.conversationId).toBe('conv-42');
    expect(seen.context.chain).toEqual([
      'spiffe://agentmesh.local/agent/origin',
      'spiffe://agentmesh.local/agent/outer-1',
    ]);
    expect(seen.context.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    // The inner call inherited the outer deadline (3 s from when the call was made), not its own 10 s default: the
    // absolute deadline travels with each hop, and a callee takes the earlier of it and gRPC's relative one.
    const after = Date.now();
    expect(seen.deadline).toBeGreaterThanOrEqual(before + 3_000);
    expect(seen.deadline).toBeLessThanOrEqual(after + 3_000);
  });

  it('stops agents that call each other in a loop at the hop limit, naming the chain', async () => {
    const error = (await caller.call({ type: 'ping' }, 'bounce', {}).catch((e: unknown) => e)) as MeshError;
    expect(error.code).toBe(Code.FAILED_PRECONDITION);
    expect(error.message).toMatch(
      /call loop: the hop limit of 10 was reached by spiffe:\/\/agentmesh.local\/agent\/origin -> spiffe:\/\/agentmesh.local\/agent\/ping-1 -> spiffe:\/\/agentmesh.local\/agent\/pong-1 -> /,
    );
  });

  it('refuses a caller that the control plane’s policies do not allow, before the handler runs', async () => {
    const admin = await mesh.client('control-plane');
    await admin.setPolicies({
      defaultEffect: 'deny',
      rules: [
        {
          id: 'origin-may-relay',
          effect: 'allow',
          actions: ['invoke'],
          callers: ['spiffe://agentmesh.local/agent/origin'],
          callerTypes: [],
          targetTypes: ['outer'],
          methods: ['relay'],
          topics: [],
        },
        {
          id: 'outer-may-report',
          effect: 'allow',
          actions: ['invoke'],
          callers: [],
          callerTypes: ['outer'],
          targetTypes: ['inner'],
          methods: [],
          topics: [],
        },
      ],
    });
    await until(() => agents.every((a) => a.cache.policies.defaultEffect === 'deny'));
    try {
      expect((await caller.call({ type: 'outer' }, 'relay', {})).agent.id).toBe('outer-1');
      const denied = (await caller
        .call({ type: 'inner' }, 'report', {})
        .catch((e: unknown) => e)) as MeshError;
      expect(denied.code).toBe(Code.PERMISSION_DENIED);
      expect(denied.message).toMatch(/may not invoke inner.report \(no rule allows it\)/);
    } finally {
      await admin.setPolicies({ defaultEffect: 'allow', rules: [] });
      await until(() => agents.every((a) => a.cache.policies.defaultEffect === 'allow'));
    }
  });

  it('drains gracefully: in-flight calls finish, then the agent leaves the registry', async () => {
    const slow = agents.find((a) => a.name === 'slow-1')!;
    const calls = Array.from({ length: 5 }, (_, i) => caller.call({ type: 'slow' }, 'wait', `call ${i}`));
    await until(() => waiting === 5, 'the five calls are in the handler');
    const drained = slow.drain(30_000);
    await until(() => callerCache.get('slow-1')?.health !== 'healthy', 'slow-1 reports draining');
    release(); // they finish while the agent drains
    const results = await Promise.all(calls);
    expect(results.map((r) => r.payload.toString())).toEqual([
      'call 0',
      'call 1',
      'call 2',
      'call 3',
      'call 4',
    ]);
    await drained;
    await until(() => callerCache.get('slow-1') === undefined);
  });
});

describe('streamed calls through the mesh', () => {
  let mesh: TestMesh;
  const agents: RunningAgent[] = [];
  let client: MeshClient;
  let cache: EndpointCache;
  /** What the consumer of a `lockstep` stream has received so far. */
  const received: string[] = [];
  /** Keeps a `stall` stream silent until the suite ends. */
  let unstall: () => void = () => undefined;
  const unstalled = new Promise<void>((resolve) => (unstall = resolve));

  beforeAll(async () => {
    mesh = await startTestMesh();
    const tokens = async function* (request: { payload: Buffer }) {
      for (const word of request.payload.toString().split(' ')) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        yield { payload: Buffer.from(word), contentType: 'text/plain' };
      }
    };
    for (const name of ['llm-1', 'llm-2']) {
      agents.push(
        await startAgent({
          identity: await mesh.identity(name),
          controlPlane: mesh.controlPlane.address,
          type: 'llm',
          streams: {
            generate: tokens,
            // Produces each word only once the consumer has the one before: a buffered stream never gets past the
            // first (and the wait for it fails, naming what it waited for).
            lockstep: async function* (request: { payload: Buffer }) {
              const words = request.payload.toString().split(' ');
              for (const [i, word] of words.entries()) {
                await until(
                  () => received.length === i,
                  `the consumer has chunk ${i} before ${word} is made`,
                );
                yield { payload: Buffer.from(word), contentType: 'text/plain' };
              }
            },
            stall: async function* () {
              yield { payload: Buffer.from('first'), contentType: 'text/plain' };
              await unstalled;
              yield { payload: Buffer.from('late'), contentType: 'text/plain' };
            },
          },
        }),
      );
    }
    cache = new EndpointCache({ client: await mesh.client('reader'), logger: silentLogger() });
    await cache.start();
    client = new MeshClient({ identity: await mesh.identity('reader'), cache, logger: silentLogger() });
    await until(() => cache.select({ type: 'llm' }).length === 2, 'both llm agents known');
  });

  afterAll(async () => {
    unstall();
    client?.close();
    cache?.close();
    await Promise.all(agents.map((a) => a.drain(0)));
    await mesh?.close();
  });

  it('passes each chunk through as it is produced', async () => {
    // Not buffered: each chunk reaches the consumer before the agent makes the next one.
    for await (const chunk of client.stream({ type: 'llm' }, 'lockstep', 'one two three four five')) {
      received.push(chunk.payload.toString());
    }
    expect(received).toEqual(['one', 'two', 'three', 'four', 'five']);
  });

  it('fails over before the first chunk when an instance is down', async () => {
    await agents[0]!.server.shutdown(0); // down but still registered
    for (let i = 0; i < 6; i += 1) {
      const words: string[] = [];
      for await (const chunk of client.stream({ type: 'llm' }, 'generate', 'still here', {
        idempotent: true,
        balancer: 'round-robin',
      })) {
        words.push(chunk.payload.toString());
      }
      expect(words).toEqual(['still', 'here']);
    }
  });

  it('cuts off a stream that goes silent, with DEADLINE_EXCEEDED, rather than with a unary timeout', async () => {
    const words: string[] = [];
    const error = await (async () => {
      for await (const chunk of client.stream({ type: 'llm' }, 'stall', '', {
        idleTimeoutMs: 1_000,
        balancer: 'round-robin',
        idempotent: true,
      })) {
        words.push(chunk.payload.toString());
      }
    })().catch((e: unknown) => e as MeshError);
    expect(words).toEqual(['first']);
    expect((error as MeshError).code).toBe(Code.DEADLINE_EXCEEDED);
    expect((error as MeshError).message).toMatch(/idle.*1000ms/);
  });
});
