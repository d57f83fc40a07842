import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import { Code, type MeshError } from '../../src/core/errors.js';
import { startTestMesh, type TestMesh, knows } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

/** A gate a handler waits at until the test opens it. */
function gate() {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/**
 * LLM request scheduling over real calls: an agent that takes one call at a time queues the rest by priority
 * class, drops calls whose deadline passes in the queue, refuses with a retry-after hint when the queue is full,
 * and clients steer away from an instance that pushes back.
 */
describe('call scheduling at a busy agent', () => {
  let mesh: TestMesh;
  const agents: RunningAgent[] = [];
  let caller: RunningAgent;
  const started: string[] = [];
  let hold = gate();
  let holding = gate();

  const llm = async (name: string, maxQueue: number) => {
    const agent = await startAgent({
      identity: await mesh.identity(name),
      controlPlane: mesh.controlPlane.address,
      type: 'llm',
      labels: { instance: name },
      maxConcurrency: 1,
      maxQueue,
      leaseTtlMs: 1_500, // heartbeats (with the queue depth) twice a second
      methods: {
        complete: async (request) => {
          const prompt = request.payload.toString();
          started.push(prompt);
          if (prompt.startsWith('hold')) {
            holding.open();
            await hold.opened;
          }
          return { payload: Buffer.from(`${name}: ${prompt}`), contentType: 'text/plain' };
        },
      },
    });
    agents.push(agent);
    return agent;
  };

  /** Occupies the only place of `instance` with a call that waits at the gate. */
  const occupy = async (instance: string) => {
    hold = gate();
    holding = gate();
    const held = caller.mesh.call(
      { type: 'llm', labelSelector: `instance=${instance}` },
      'complete',
      'hold',
      {
        timeoutMs: 20_000,
      },
    );
    await holding.opened;
    return { held }; // in an object: an async function returning the promise would wait for it
  };

  beforeAll(async () => {
    mesh = await startTestMesh();
    await llm('llm-1', 10);
    caller = await startAgent({
      identity: await mesh.identity('caller-1'),
      controlPlane: mesh.controlPlane.address,
      type: 'caller',
    });
    agents.push(caller);
    await until(() => knows(caller, 'llm-1'), 'llm-1 known', 10_000);
  });

  afterAll(async () => {
    hold.open();
    await Promise.all(agents.map((agent) => agent.drain(0)));
    await mesh?.close();
  });

  /** Sends six calls of mixed priority classes while llm-1 is busy, and resolves with the order they started in. */
  const startOrder = async (): Promise<string[]> => {
    const { held } = await occupy('llm-1');
    started.length = 0;
    // A load the previous test left in the cache must not pass for this one's queue.
    await until(() => caller.cache.get('llm-1')?.load.queueDepth === 0, 'an empty queue reported', 15_000);
    const target = { type: 'llm', labelSelector: 'instance=llm-1' };
    const order = ['batch-1', 'interactive-1', 'batch-2', 'default-1', 'interactive-2', 'batch-3'];
    const calls = order.map((prompt) =>
      caller.mesh.call(target, 'complete', prompt, {
        priority: prompt.replace(/-\d$/, '') as 'interactive' | 'batch' | 'default',
        timeoutMs: 20_000,
      }),
    );
    // All six wait behind the held call; heartbeats report them as the agent's queue.
    await until(
      () => caller.cache.get('llm-1')?.load.queueDepth === 6,
      `six calls queued (load ${JSON.stringify(caller.cache.get('llm-1')?.load)}, started ${started.join(' ')})`,
      15_000,
    );
    hold.open();
    await held;
    await Promise.all(calls);
    return [...started];
  };

  it('runs a caller that claims interactive priority without a grant at default, and counts it', async () => {
    // interactive-1 and interactive-2 wait as default calls: in arrival order with default-1, before the batch.
    expect(await startOrder()).toEqual([
      'interactive-1',
      'default-1',
      'interactive-2',
      'batch-1',
      'batch-2',
      'batch-3',
    ]);
    const metrics = await agents[0]!.metrics.registry.getMetricsAsJSON();
    const lowered = metrics.find((metric) => metric.name === 'agentmesh_priority_lowered_total');
    expect(lowered?.values).toEqual([
      {
        value: 2,
        labels: { caller_type: 'caller', callee_type: 'llm', asked: 'interactive', granted: 'default' },
      },
    ]);
  });

  it('starts waiting calls by priority class, interactive before batch, each class in arrival order', async () => {
    const admin = await mesh.client('control-plane');
    await admin.setPolicies({
      defaultEffect: 'allow',
      rules: [],
      grants: [
        {
          id: 'callers-interactive',
          callers: [],
          callerTypes: ['caller'],
          types: [],
          priority: 'interactive',
        },
      ],
    });
    await until(() => agents[0]!.cache.policies.grants?.length === 1, 'llm-1 has the grant', 10_000);
    expect(await startOrder()).toEqual([
      'interactive-1',
      'interactive-2',
      'default-1',
      'batch-1',
      'batch-2',
      'batch-3',
    ]);
    await admin.setPolicies({ defaultEffect: 'allow', rules: [] });
  });

  it('drops a call whose deadline passes while it waits, without running it', async () => {
    const { held } = await occupy('llm-1');
    started.length = 0;
    const late = caller.mesh
      .call({ type: 'llm', labelSelector: 'instance=llm-1' }, 'complete', 'too-late', { timeoutMs: 300 })
      .then(
        () => undefined,
        (error: unknown) => error as MeshError,
      );
    expect((await late)?.code).toBe(Code.DEADLINE_EXCEEDED);
    hold.open();
    await held;
    const after = await caller.mesh.call(
      { type: 'llm', labelSelector: 'instance=llm-1' },
      'complete',
      'next',
    );
    expect(after.payload.toString()).toBe('llm-1: next');
    expect(started).toEqual(['next']);
  });

  it('refuses with a retry-after hint when the queue is full, and clients steer to an instance with room', async () => {
    const full = await llm('llm-2', 0);
    await until(() => knows(caller, full.name), 'llm-2 known', 10_000);
    const { held } = await occupy('llm-2');
    // The clocks stand still from the refusal on (Date only: timers and the sockets run on), so the hint lasts
    // for all the calls below however slowly they run.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    try {
      // Pinned to the full instance: refused at once, with the hint.
      const refused = (await caller.mesh
        .call({ type: 'llm', labelSelector: 'instance=llm-2' }, 'complete', 'pinned')
        .catch((error: unknown) => error)) as MeshError;
      expect(refused.code).toBe(Code.RESOURCE_EXHAUSTED);
      expect(refused.message).toMatch(/agent "llm-2" is busy/);
      expect(refused.retryAfterMs).toBeGreaterThanOrEqual(50);
      // Any llm: a call refused by llm-2 (not idempotent, but it never ran) goes to llm-1, and the next calls
      // avoid llm-2 while its hint lasts.
      const answers = [];
      for (let i = 0; i < 10; i += 1) {
        answers.push(
          await caller.mesh.call({ type: 'llm' }, 'complete', `any-${i}`, { balancer: 'round-robin' }),
        );
      }
      expect(answers.every((answer) => answer.agent.id === 'llm-1')).toBe(true);
      expect(answers.filter((answer) => answer.attempts > 1).length).toBeLessThanOrEqual(1);
    } finally {
      vi.useRealTimers();
    }
    hold.open();
    await held;
  });
});
