import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import { currentContext } from '../../src/core/call-context.js';
import { createLogger } from '../../src/observability/logger.js';
import { eventToWire } from '../../src/pubsub/event.js';
import { MESH_CHANNEL_OPTIONS, createChannelCredentials } from '../../src/transport/credentials.js';
import { loadMeshProtos } from '../../src/transport/protos.js';
import { startTestMesh, type TestMesh, knows } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

/**
 * What operators correlate by: the lines logged about failed calls and events carry the trace id and the verified
 * caller; a caller learns the trace id of its call; a call that found no instance is counted.
 */
describe('logs of calls and events, and metrics of failures', () => {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'info',
    pretty: false,
    destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  });
  let mesh: TestMesh;
  const agents: RunningAgent[] = [];
  let client: grpc.Client | undefined;

  beforeAll(async () => {
    mesh = await startTestMesh();
  });

  afterAll(async () => {
    client?.close();
    await Promise.all(agents.map((agent) => agent.drain(0)));
    await mesh?.close();
  });

  it("the server's 'unexpected error in a handler' log line carries the call's trace id and caller", async () => {
    const worker = await startAgent({
      identity: await mesh.identity('worker-1'),
      controlPlane: mesh.controlPlane.address,
      type: 'worker',
      logger,
      methods: {
        boom: async () => {
          throw new Error('a bug in the handler');
        },
        fine: async (request) => {
          logger.child({ agent: 'worker-1' }).info('fine');
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
    await until(() => knows(caller, 'worker-1'), 'worker known', 10_000);
    await expect(caller.mesh.call({ type: 'worker' }, 'boom', 'x')).rejects.toMatchObject({ code: 2 });
    // The caller learns the trace id of a call it starts: the same as the callee logs.
    const ok = await caller.mesh.call({ type: 'worker' }, 'fine', 'x');
    expect(ok.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(lines.find((entry) => entry.msg === 'fine')?.traceId).toBe(ok.traceId);
    const line = lines.find((entry) => entry.msg === 'unexpected error in a handler');
    expect(line).toBeDefined();
    expect(line).toMatchObject({ agent: 'worker-1', caller: caller.identity.spiffeId.uri });
    expect(line!.traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  it("the subscriber's 'event handler failed' log line carries the event's trace id and publisher", async () => {
    const sink = await startAgent({
      identity: await mesh.identity('sink-1'),
      controlPlane: mesh.controlPlane.address,
      type: 'sink',
      logger,
      subscriptions: [
        {
          pattern: 'jobs.*',
          handler: () => {
            throw new Error('cannot handle');
          },
        },
      ],
    });
    const source = await startAgent({
      identity: await mesh.identity('source-1'),
      controlPlane: mesh.controlPlane.address,
      type: 'source',
    });
    agents.push(sink, source);
    await until(() => knows(source, 'sink-1'), 'sink known', 10_000);
    await source.publish('jobs.created', { n: 1 });
    await until(
      () => lines.some((l) => String(l.msg).startsWith('event handler failed')),
      'handler failed',
      10_000,
    );
    const line = lines.find((l) => String(l.msg).startsWith('event handler failed'))!;
    expect(line).toMatchObject({ agent: 'sink-1', caller: source.identity.spiffeId.uri });
    expect(line.traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  it('a call that fails because no instance of the callee type is available is counted in agentmesh_client_calls_total', async () => {
    const lonely = await startAgent({
      identity: await mesh.identity('lonely-1'),
      controlPlane: mesh.controlPlane.address,
      type: 'lonely',
    });
    agents.push(lonely);
    for (let i = 0; i < 3; i += 1) {
      await expect(lonely.mesh.call({ type: 'gone' }, 'work', 'x')).rejects.toMatchObject({ code: 14 });
    }
    const text = await lonely.metrics.registry.metrics();
    const clientLines = text
      .split('\n')
      .filter((l) => l.startsWith('agentmesh_client_calls_total{caller_type="lonely"'));
    expect(clientLines.join('\n')).toMatch(/callee_type="gone",method="work",code="UNAVAILABLE"\} 3/);
  });
  it("names the verified publisher as an event's caller, not one the publisher wrote into the event", async () => {
    const sink = await startAgent({
      identity: await mesh.identity('sink-2'),
      controlPlane: mesh.controlPlane.address,
      type: 'sink',
      logger,
      subscriptions: [
        { pattern: 'jobs.*', handler: () => void logger.child({ agent: 'sink-2' }).info('handled') },
      ],
    });
    agents.push(sink);
    const mallory = await mesh.identity('mallory-1');
    client = new grpc.Client(
      sink.address,
      createChannelCredentials(mallory, sink.identity.spiffeId.uri),
      MESH_CHANNEL_OPTIONS,
    );
    const method = loadMeshProtos().protos.agentmesh.v1.Agent.service.DeliverEvents;
    const stream = client.makeBidiStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
    );
    stream.on('data', () => undefined);
    stream.on('error', () => undefined);
    const event = eventToWire({
      id: 'e-1',
      topic: 'jobs.created',
      publisher: mallory.spiffeId.uri,
      publishedAt: Date.now(),
      payload: Buffer.from('{}'),
      contentType: 'application/json',
      key: '',
      context: { chain: ['spiffe://agentmesh.local/agent/admin-1'] },
    });
    stream.write({ deliveries: [{ deliveryId: 'd-1', attempt: 1, pattern: 'jobs.*', group: '', event }] });
    await until(() => lines.some((l) => l.msg === 'handled'), 'event handled', 10_000);
    stream.end();
    const line = lines.find((l) => l.msg === 'handled')!;
    expect(line.caller).toBe(mallory.spiffeId.uri);
  });
  it('carry the trace id and the caller and callee identities of a call', async () => {
    let traceparent: string | undefined;
    const worker = await startAgent({
      identity: await mesh.identity('worker-2', ['scribe']),
      controlPlane: mesh.controlPlane.address,
      type: 'scribe',
      logger,
      methods: {
        work: async (request) => {
          traceparent = currentContext()?.traceparent;
          logger.child({ agent: 'worker-2' }).info('working on it');
          return request;
        },
      },
    });
    const caller = await startAgent({
      identity: await mesh.identity('caller-2'),
      controlPlane: mesh.controlPlane.address,
      type: 'caller',
    });
    agents.push(worker, caller);
    await until(() => knows(caller, 'worker-2'), 'worker known', 10_000);
    // A first call (no trace sent) gets one started by the callee.
    await caller.mesh.call({ type: 'scribe' }, 'work', 'x');
    const line = lines.find((entry) => entry.msg === 'working on it');
    expect(line).toMatchObject({
      agent: 'worker-2',
      caller: caller.identity.spiffeId.uri,
      traceId: traceparent!.split('-')[1],
    });
    expect(line!.traceId).toMatch(/^[0-9a-f]{32}$/);
    // Outside a call, nothing of the kind is added.
    logger.info('idle');
    expect(lines.at(-1)).not.toHaveProperty('traceId');
  });
});
