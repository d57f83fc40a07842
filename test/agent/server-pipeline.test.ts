import * as grpc from '@grpc/grpc-js';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import type { ControlPlaneClient } from '../../src/control-plane/client.js';
import { Code, MeshError } from '../../src/core/errors.js';
import type { RateLimit } from '../../src/core/policy.js';
import {
  composeServerInterceptors,
  type ServerCall,
  type ServerInterceptor,
} from '../../src/core/server-call.js';
import { EndpointCache } from '../../src/data-plane/endpoint-cache.js';
import type { AgentClient } from '../../src/generated/agentmesh/v1/Agent.js';
import { silentLogger } from '../../src/observability/logger.js';
import { registerTracing, stopTracing } from '../../src/observability/tracing.js';
import { MESH_CHANNEL_OPTIONS, createChannelCredentials } from '../../src/transport/credentials.js';
import { loadMeshProtos } from '../../src/transport/protos.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

const ID = (name: string) => `spiffe://agentmesh.local/agent/${name}`;

describe('composeServerInterceptors', () => {
  const call = {} as ServerCall;
  const recording = (log: string[], name: string): ServerInterceptor => {
    return (next) => async (c) => {
      log.push(`${name} before`);
      try {
        await next(c);
      } finally {
        log.push(`${name} after`);
      }
    };
  };

  it('runs the first interceptor outermost and unwinds in the opposite order', async () => {
    const log: string[] = [];
    const chain = composeServerInterceptors([recording(log, 'a'), recording(log, 'b')]);
    await chain(async () => void log.push('handler'))(call);
    expect(log).toEqual(['a before', 'b before', 'handler', 'b after', 'a after']);
  });

  it('lets an interceptor refuse: the inner ones and the handler never run, the outer ones see the error', async () => {
    const log: string[] = [];
    const refuse: ServerInterceptor = () => () => {
      throw new MeshError(Code.PERMISSION_DENIED, 'no');
    };
    const chain = composeServerInterceptors([recording(log, 'a'), refuse, recording(log, 'b')]);
    await expect(chain(async () => void log.push('handler'))(call)).rejects.toMatchObject({ code: 7 });
    expect(log).toEqual(['a before', 'a after']);
  });

  it('passes a handler failure out through every interceptor, and an empty list is the handler itself', async () => {
    const log: string[] = [];
    const failing = async () => {
      throw new MeshError(Code.UNAVAILABLE, 'down');
    };
    await expect(composeServerInterceptors([recording(log, 'a')])(failing)(call)).rejects.toThrow('down');
    expect(log).toEqual(['a before', 'a after']);
    expect(composeServerInterceptors([])(failing)).toBe(failing);
  });
});

/** A typed service with one method of each kind, serialized as JSON (no proto needed). */
const json = {
  serialize: (value: unknown) => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer) => JSON.parse(bytes.toString()) as { text: string },
};
const method = (name: string, requestStream: boolean, responseStream: boolean) => ({
  path: `/test.v1.Echo/${name}`,
  requestStream,
  responseStream,
  requestSerialize: json.serialize,
  requestDeserialize: json.deserialize,
  responseSerialize: json.serialize,
  responseDeserialize: json.deserialize,
  // As proto-loader names them: grpc-js accepts a handler under either name.
  originalName: name[0]!.toLowerCase() + name.slice(1),
});
const ECHO: grpc.ServiceDefinition = {
  Unary: method('Unary', false, false),
  ServerStream: method('ServerStream', false, true),
  ClientStream: method('ClientStream', true, false),
  Bidi: method('Bidi', true, true),
};
type Text = { text: string };
const TYPED = ['Unary', 'ServerStream', 'ClientStream', 'Bidi'] as const;

/** The same chain for a generic call, a stream and every kind of typed method, over real mTLS calls. */
describe('the one server pipeline of an agent', () => {
  const exporter = new InMemorySpanExporter();
  let mesh: TestMesh;
  let admin: ControlPlaneClient;
  let agent: RunningAgent;
  let cache: EndpointCache;
  let generic: AgentClient;
  let echo: grpc.Client;
  const ran: string[] = [];
  let release: (() => void) | undefined;
  let holding: (() => void) | undefined;

  beforeAll(async () => {
    registerTracing('agent-mesh-test', [new SimpleSpanProcessor(exporter)]);
    mesh = await startTestMesh();
    admin = await mesh.client('control-plane');
    agent = await startAgent({
      identity: await mesh.identity('desk-1'),
      controlPlane: mesh.controlPlane.address,
      type: 'desk',
      maxConcurrency: 1,
      maxQueue: 1,
      leaseTtlMs: 1_500, // heartbeats every 500 ms report the queue
      methods: {
        work: async (request) => {
          ran.push('work');
          return request;
        },
        hold: async (request) => {
          await new Promise<void>((resolve) => {
            release = resolve;
            holding?.();
          });
          return request;
        },
      },
      streams: {
        tokens: async function* (request) {
          ran.push('tokens');
          yield request;
        },
      },
      services: [
        {
          name: 'test.v1.Echo',
          definition: ECHO,
          implementation: {
            // Under its lower-camel-case name, which grpc-js serves too: the pipeline must wrap it all the same.
            unary: (call: grpc.ServerUnaryCall<Text, Text>, callback: grpc.sendUnaryData<Text>) => {
              ran.push('Unary');
              callback(null, call.request);
            },
            ServerStream: (call: grpc.ServerWritableStream<Text, Text>) => {
              ran.push('ServerStream');
              call.write(call.request);
              call.end();
            },
            ClientStream: (
              call: grpc.ServerReadableStream<Text, Text>,
              callback: grpc.sendUnaryData<Text>,
            ) => {
              ran.push('ClientStream');
              const texts: string[] = [];
              call.on('data', (message: Text) => texts.push(message.text));
              call.on('end', () => callback(null, { text: texts.join(' ') }));
            },
            Bidi: (call: grpc.ServerDuplexStream<Text, Text>) => {
              ran.push('Bidi');
              call.on('data', (message: Text) => call.write(message));
              call.on('end', () => call.end());
            },
          },
        },
      ],
    });
    cache = new EndpointCache({ client: await mesh.client('clerk-1'), logger: silentLogger() });
    await cache.start();
    await until(() => cache.get('desk-1') !== undefined, 'the agent is registered');
    const credentials = createChannelCredentials(await mesh.identity('clerk-1'), ID('desk-1'));
    generic = new (loadMeshProtos().protos.agentmesh.v1.Agent)(
      agent.address,
      credentials,
      MESH_CHANNEL_OPTIONS,
    );
    echo = new (grpc.makeGenericClientConstructor(ECHO, 'Echo'))(
      agent.address,
      credentials,
      MESH_CHANNEL_OPTIONS,
    );
  });

  afterAll(async () => {
    generic?.close();
    echo?.close();
    cache?.close();
    await agent?.drain(0);
    await mesh?.close();
    await stopTracing();
  });

  type Outcome = { code: number; details: string };
  const outcome = (error: grpc.ServiceError | null | undefined): Outcome =>
    error ? { code: error.code, details: error.details } : { code: 0, details: '' };
  /** Reads a stream of answers to its end, and resolves with its status. */
  const ended = (stream: NodeJS.EventEmitter, resolve: (outcome: Outcome) => void) => {
    stream.on('data', () => undefined);
    stream.on('error', (e: grpc.ServiceError) => resolve(outcome(e)));
    stream.on('end', () => resolve(outcome(null)));
  };
  const deadline = () => ({ deadline: Date.now() + 10_000 });
  const request = { method: '', payload: Buffer.from('hi'), contentType: 'text/plain' };

  /** Calls one method of each kind, as clerk-1, and resolves with their outcomes by method name. */
  const call: Record<string, () => Promise<Outcome>> = {
    work: () =>
      new Promise((resolve) =>
        generic.Invoke({ ...request, method: 'work' }, deadline(), (e) => resolve(outcome(e))),
      ),
    tokens: () =>
      new Promise((resolve) => {
        const stream = generic.InvokeStream({ ...request, method: 'tokens' }, deadline());
        ended(stream, resolve);
      }),
    Unary: () =>
      new Promise((resolve) =>
        echo.makeUnaryRequest(
          ECHO.Unary!.path,
          json.serialize,
          json.deserialize,
          { text: 'a' },
          deadline(),
          (e) => resolve(outcome(e)),
        ),
      ),
    ServerStream: () =>
      new Promise((resolve) => {
        const stream = echo.makeServerStreamRequest(
          ECHO.ServerStream!.path,
          json.serialize,
          json.deserialize,
          { text: 'a' },
          deadline(),
        );
        ended(stream, resolve);
      }),
    ClientStream: () =>
      new Promise((resolve) => {
        const stream = echo.makeClientStreamRequest(
          ECHO.ClientStream!.path,
          json.serialize,
          json.deserialize,
          deadline(),
          (e) => resolve(outcome(e)),
        );
        stream.write({ text: 'a' });
        stream.end();
      }),
    Bidi: () =>
      new Promise((resolve) => {
        const stream = echo.makeBidiStreamRequest(
          ECHO.Bidi!.path,
          json.serialize,
          json.deserialize,
          deadline(),
        );
        ended(stream, resolve);
        stream.write({ text: 'a' });
        stream.end();
      }),
  };
  /** Opens an event-delivery stream as clerk-1 and closes it at once: the agent answers OK when it ends. */
  const deliveries = (): Promise<Outcome> =>
    new Promise((resolve) => {
      const stream = generic.DeliverEvents();
      ended(stream, resolve);
      stream.end();
    });
  const KINDS = ['work', 'tokens', ...TYPED] as const;
  /** The name policies, spans and metrics give each method. */
  const policyName = (name: string) => (TYPED.includes(name as never) ? `test.v1.Echo/${name}` : name);

  const setPolicies = async (policies: Parameters<ControlPlaneClient['setPolicies']>[0]) => {
    await admin.setPolicies(policies);
    const wanted = JSON.stringify([policies.rules.length, (policies.rateLimits ?? []).length]);
    await until(
      () =>
        JSON.stringify([
          agent.cache.policies.rules.length,
          (agent.cache.policies.rateLimits ?? []).length,
        ]) === wanted,
      'the agent has the policies',
    );
  };

  const served = async (method: string, code: string): Promise<number> => {
    const metrics = await agent.metrics.registry.getMetricsAsJSON();
    const calls = metrics.find((metric) => metric.name === 'agentmesh_server_calls_total');
    return (calls?.values ?? [])
      .filter((value) => value.labels.method === method && value.labels.code === code)
      .reduce((sum, value) => sum + value.value, 0);
  };

  it('serves a generic call, a stream and every kind of typed method, each with a server span and a metric', async () => {
    exporter.reset();
    for (const name of KINDS) expect(await call[name]!(), name).toEqual({ code: 0, details: '' });
    expect(ran).toEqual([...KINDS]);
    await until(() => exporter.getFinishedSpans().length >= KINDS.length, 'a span for every call');
    const spans = exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.SERVER);
    for (const name of KINDS) {
      const span = spans.find((s) => s.name === `desk/${policyName(name)}`);
      expect(span, name).toBeDefined();
      expect(span!.attributes['agentmesh.caller']).toBe(ID('clerk-1'));
      expect(span!.attributes['rpc.grpc.status_code']).toBe(0);
      expect(await served(policyName(name), 'OK'), name).toBe(1);
    }
  });

  it('refuses a caller the policies deny on every kind of call alike, before any handler runs', async () => {
    ran.length = 0;
    await setPolicies({
      defaultEffect: 'allow',
      rules: [
        {
          ...{ id: 'no-clerks', effect: 'deny', actions: ['invoke'], callers: [ID('clerk-1')] },
          ...{ callerTypes: [], targetTypes: ['desk'], methods: ['*'], topics: [] },
        },
      ],
    });
    try {
      for (const name of KINDS) {
        const refused = await call[name]!();
        expect(refused.code, name).toBe(Code.PERMISSION_DENIED);
        expect(refused.details).toContain(`may not invoke desk.${policyName(name)} (rule no-clerks)`);
        expect(await served(policyName(name), 'PERMISSION_DENIED'), name).toBe(1);
      }
      expect(ran).toEqual([]);
    } finally {
      await setPolicies({ defaultEffect: 'allow', rules: [] });
    }
  });

  it('takes generic, streamed and typed calls from one rate-limit budget', async () => {
    const budget: RateLimit = {
      ...{
        id: 'clerk-budget',
        callers: [ID('clerk-1')],
        callerTypes: [],
        targetTypes: ['desk'],
        methods: [],
      },
      ...{ requestsPerSecond: 0.001, burst: 3, tokensPerMinute: 0 },
    };
    await setPolicies({ defaultEffect: 'allow', rules: [], rateLimits: [budget] });
    try {
      expect((await call.work!()).code).toBe(0);
      expect((await call.tokens!()).code).toBe(0);
      expect((await call.Unary!()).code).toBe(0);
      for (const name of KINDS) {
        const refused = await call[name]!();
        expect(refused.code, name).toBe(Code.RESOURCE_EXHAUSTED);
        expect(refused.details).toMatch(/^rate limit "clerk-budget": .* may make 0.001 calls per second/);
      }
      // Event deliveries take no call budget: each subscription bounds its own deliveries in flight.
      expect(await deliveries()).toEqual({ code: 0, details: '' });
    } finally {
      await setPolicies({ defaultEffect: 'allow', rules: [] });
    }
  });

  it('queues typed and generic calls for the same places, and refuses any kind when the queue is full', async () => {
    const held = new Promise<void>((resolve) => (holding = resolve));
    const hold = new Promise<Outcome>((resolve) =>
      generic.Invoke({ ...request, method: 'hold' }, deadline(), (e) => resolve(outcome(e))),
    );
    await held;
    // The held generic call has the only place: a typed call waits for it, and fills the queue.
    ran.length = 0;
    const queued = call.Unary!();
    await until(() => cache.get('desk-1')?.load.queueDepth === 1, 'a heartbeat reports the waiting call');
    expect(ran).toEqual([]);
    for (const name of ['tokens', 'Bidi']) {
      const refused = await call[name]!();
      expect(refused.code, name).toBe(Code.RESOURCE_EXHAUSTED);
      expect(refused.details).toMatch(/agent "desk-1" is busy: 1 calls run and 1 wait/);
    }
    release!();
    expect(await hold).toEqual({ code: 0, details: '' });
    expect(await queued).toEqual({ code: 0, details: '' });
    expect(ran).toEqual(['Unary']);
  });

  it('traces event-delivery streams and refuses a revoked publisher the stream itself', async () => {
    exporter.reset();
    expect(await deliveries()).toEqual({ code: 0, details: '' });
    await until(() => exporter.getFinishedSpans().some((s) => s.name === 'desk/DeliverEvents'), 'its span');
    expect(await served('DeliverEvents', 'OK')).toBeGreaterThanOrEqual(1);
    await admin.setPolicies({ defaultEffect: 'allow', rules: [], revokedIdentities: [ID('clerk-1')] });
    await until(() => agent.cache.policies.revokedIdentities?.length === 1, 'the agent has the revocation');
    try {
      const refused = await deliveries();
      expect(refused.code).toBe(Code.PERMISSION_DENIED);
      expect(refused.details).toMatch(/is revoked by the mesh's policies/);
    } finally {
      await admin.setPolicies({ defaultEffect: 'allow', rules: [] });
      await until(() => !agent.cache.policies.revokedIdentities?.length, 'the revocation is lifted');
    }
  });
});
