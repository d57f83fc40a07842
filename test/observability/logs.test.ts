import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import { currentContext } from '../../src/data-plane/call-context.js';
import { createLogger } from '../../src/observability/logger.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

/** Log lines written while an agent handles a real call carry the trace id, the caller and the agent. */
describe('logs of a call', () => {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'info',
    pretty: false,
    destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  });
  let mesh: TestMesh;
  const agents: RunningAgent[] = [];

  beforeAll(async () => {
    mesh = await startTestMesh();
  });

  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.drain(0)));
    await mesh?.close();
  });

  it('carry the trace id and the caller and callee identities', async () => {
    let traceparent: string | undefined;
    const worker = await startAgent({
      identity: await mesh.identity('worker-1'),
      controlPlane: mesh.controlPlane.address,
      type: 'worker',
      logger,
      methods: {
        work: async (request) => {
          traceparent = currentContext()?.traceparent;
          logger.child({ agent: 'worker-1' }).info('working on it');
          return request;
        },
      },
    });
    const caller = await startAgent({
      identity: await mesh.identity('caller-1'),
      controlPlane: mesh.controlPlane.address,
      type: 'caller',
    });
    agents.push(worker, caller);
    await until(() => caller.cache.get('worker-1') !== undefined, 'worker known', 10_000);
    // A first call (no trace sent) gets one started by the callee.
    await caller.mesh.call({ type: 'worker' }, 'work', 'x');
    const line = lines.find((entry) => entry.msg === 'working on it');
    expect(line).toMatchObject({
      agent: 'worker-1',
      caller: caller.identity.spiffeId.uri,
      traceId: traceparent!.split('-')[1],
    });
    expect(line!.traceId).toMatch(/^[0-9a-f]{32}$/);
    // Outside a call, nothing of the kind is added.
    logger.info('idle');
    expect(lines.at(-1)).not.toHaveProperty('traceId');
  });
});
