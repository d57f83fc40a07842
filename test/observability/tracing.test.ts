import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import { registerTracing, stopTracing } from '../../src/observability/tracing.js';
import { startTestMesh, type TestMesh, knows } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

/**
 * Spans of real calls and events between agents over mTLS, with an in-memory exporter: each hop's client and
 * server spans are linked through the `traceparent` the mesh carries in gRPC metadata and in events.
 */
describe('tracing across agents', () => {
  const exporter = new InMemorySpanExporter();
  let mesh: TestMesh;
  const agents: RunningAgent[] = [];
  let front: RunningAgent;

  beforeAll(async () => {
    registerTracing('agent-mesh-test', [new SimpleSpanProcessor(exporter)]);
    mesh = await startTestMesh();
    const start = async (name: string, type: string, extra: Partial<Parameters<typeof startAgent>[0]>) => {
      const agent = await startAgent({
        identity: await mesh.identity(name),
        controlPlane: mesh.controlPlane.address,
        type,
        ...extra,
      });
      agents.push(agent);
      return agent;
    };
    await start('back-1', 'back', { methods: { work: async (request) => request } });
    await start('audit-1', 'audit', { subscriptions: [{ pattern: 'work.done', handler: () => undefined }] });
    front = await start('front-1', 'front', {
      methods: {
        handle: async (request) => {
          const answer = await front.mesh.call({ type: 'back' }, 'work', request.payload);
          await front.publish('work.done', { ok: true });
          return answer;
        },
      },
    });
    await until(() => knows(front, 'back-1', 'audit-1'), 'agents known', 10_000);
  });

  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.drain(0)));
    await mesh?.close();
    await stopTracing();
  });

  it('links the client and server spans of each hop, and the event to its consumer, in one trace', async () => {
    const caller = await startAgent({
      identity: await mesh.identity('caller-1'),
      controlPlane: mesh.controlPlane.address,
      type: 'caller',
    });
    agents.push(caller);
    await until(() => knows(caller, 'front-1'), 'front known', 10_000);
    exporter.reset();
    await caller.mesh.call({ type: 'front' }, 'handle', 'hello');
    await until(
      () => exporter.getFinishedSpans().some((s) => s.name === 'process work.done'),
      'consumer span',
    );
    const spans = exporter.getFinishedSpans();
    const find = (name: string, kind: SpanKind): ReadableSpan => {
      const span = spans.find((s) => s.name === name && s.kind === kind);
      expect(span, `${name} (${SpanKind[kind]}) among ${spans.map((s) => s.name).join(', ')}`).toBeDefined();
      return span!;
    };
    const clientFront = find('front/handle', SpanKind.CLIENT);
    const serverFront = find('front/handle', SpanKind.SERVER);
    const clientBack = find('back/work', SpanKind.CLIENT);
    const serverBack = find('back/work', SpanKind.SERVER);
    const producer = find('publish work.done', SpanKind.PRODUCER);
    const consumer = find('process work.done', SpanKind.CONSUMER);
    const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
    const traceId = clientFront.spanContext().traceId;
    for (const span of [serverFront, clientBack, serverBack, producer, consumer]) {
      expect(span.spanContext().traceId).toBe(traceId);
    }
    expect(parentOf(clientFront)).toBeUndefined();
    expect(parentOf(serverFront)).toBe(clientFront.spanContext().spanId);
    expect(parentOf(clientBack)).toBe(serverFront.spanContext().spanId);
    expect(parentOf(serverBack)).toBe(clientBack.spanContext().spanId);
    expect(parentOf(producer)).toBe(serverFront.spanContext().spanId);
    expect(parentOf(consumer)).toBe(producer.spanContext().spanId);
    expect(clientBack.attributes['agentmesh.callee.id']).toBe('back-1');
    expect(serverBack.attributes['agentmesh.caller']).toMatch(/\/front-1$/);
  });

  it('marks a failed call on both ends with its gRPC status', async () => {
    exporter.reset();
    await expect(front.mesh.call({ type: 'back' }, 'missing', '')).rejects.toMatchObject({ code: 12 });
    await until(() => exporter.getFinishedSpans().length >= 2, 'two spans');
    const client = exporter.getFinishedSpans().find((s) => s.name === 'back/missing');
    // The server does not serve "missing": its span does not take the caller's made-up name.
    const server = exporter.getFinishedSpans().find((s) => s.name === 'back/unknown');
    expect(client?.kind).toBe(SpanKind.CLIENT);
    expect(server?.kind).toBe(SpanKind.SERVER);
    const spans = [client!, server!];
    for (const span of spans) {
      expect(span.status.code).toBe(2); // ERROR
      expect(span.attributes['rpc.grpc.status_code']).toBe(12);
    }
  });
});
